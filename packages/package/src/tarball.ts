import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pythonJson } from '@tally/core';
import tar from 'tar-stream';
import { type StatusEntry, statusCsv } from './status.js';

/** Where a member's bytes come from: a file (streamed), ready text/bytes, or a value serialised like Python's json.dumps. */
export type MemberSource = { file: string } | { text: string | Uint8Array } | { json: unknown };

export interface DataMember {
  key: string;
  format: 'json' | 'csv';
  /** Collector version, recorded in manifest.json. */
  version: string;
  source: MemberSource;
}

export interface TarballContents {
  /** Data members, written in this order as `./{key}.{format}`. */
  members: readonly DataMember[];
  /** The config collector's document, written as `./config.json` into every tarball. */
  config: { version: string; source: { text: string | Uint8Array } | { json: unknown } };
  /** Rows of `./data_collection_status.csv` (data collections only, failed ones included). */
  status: readonly StatusEntry[];
}

export interface WriteTarballOptions {
  /** mtime of every member (the gather's `until`): fixed so the same input gives the same bytes. */
  mtime: Date;
  /** gzip level 0–9 (default 6, zlib's default). */
  gzipLevel?: number;
}

export interface WrittenTarball {
  path: string;
  /** Member names in archive order. */
  members: string[];
  /** Uncompressed bytes of the data members. */
  dataBytes: number;
  /** Size of the .tar.gz on disk. */
  bytes: number;
}

export const STATUS_VERSION = '1.0';

export function memberName(m: { key: string; format: string }): string {
  return `${m.key}.${m.format}`;
}

function toBytes(source: { text: string | Uint8Array } | { json: unknown }): Buffer {
  if ('text' in source) return Buffer.from(source.text);
  return Buffer.from(pythonJson(source.json), 'utf8');
}

/** Byte size of a member without reading a file into memory. */
export async function sourceSize(source: MemberSource): Promise<number> {
  if ('file' in source) return (await stat(source.file)).size;
  return toBytes(source).length;
}

/**
 * Write a `.tar.gz` with the reference layout: data members, then `config.json`,
 * `data_collection_status.csv` and `manifest.json`. Files are streamed (never
 * held in memory); headers are fixed (mode 0644, uid/gid 0, no user names,
 * `mtime`) so identical input gives identical bytes. A partial file is removed on error.
 */
export async function writeTarball(path: string, contents: TarballContents, opts: WriteTarballOptions): Promise<WrittenTarball> {
  const seen = new Set<string>();
  for (const m of contents.members) {
    const name = memberName(m);
    if (seen.has(name) || name === 'config.json' || name === 'data_collection_status.csv' || name === 'manifest.json') {
      throw new TypeError(`writeTarball ${path}: member ${name} appears twice; one part of a key per tarball`);
    }
    seen.add(name);
  }
  const level = opts.gzipLevel ?? 6;
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new RangeError(`gzip level ${level} is not 0–9`);
  const mtime = new Date(Math.floor(opts.mtime.getTime() / 1000) * 1000);
  const header = (name: string, size: number) =>
    ({ name: `./${name}`, size, mtime, mode: 0o644, uid: 0, gid: 0, uname: '', gname: '', type: 'file' }) as const;

  await mkdir(dirname(path), { recursive: true });
  const pack = tar.pack();
  const gzip = createGzip({ level });
  const written = pipeline(pack, gzip, createWriteStream(path, { mode: 0o644 }));
  // Keep the pipeline's rejection observed while entries are being added.
  written.catch(() => {});
  const names: string[] = [];
  const manifest: Record<string, string> = {};
  let dataBytes = 0;

  const addBuffer = (name: string, data: Buffer) =>
    new Promise<void>((resolve, reject) => {
      pack.entry(header(name, data.length), data, (err) => (err ? reject(err) : resolve()));
    });
  const addFile = async (name: string, file: string) => {
    const size = (await stat(file)).size;
    await new Promise<void>((resolve, reject) => {
      const entry = pack.entry(header(name, size), (err) => (err ? reject(err) : resolve()));
      const input = createReadStream(file);
      input.on('error', (err) => {
        entry.destroy(err);
        reject(err);
      });
      input.pipe(entry as unknown as NodeJS.WritableStream);
    });
    return size;
  };

  try {
    for (const m of contents.members) {
      const name = memberName(m);
      if ('file' in m.source) dataBytes += await addFile(name, m.source.file);
      else {
        const data = toBytes(m.source);
        dataBytes += data.length;
        await addBuffer(name, data);
      }
      names.push(name);
      manifest[name] = m.version;
    }
    await addBuffer('config.json', toBytes(contents.config.source));
    manifest['config.json'] = contents.config.version;
    names.push('config.json');
    await addBuffer('data_collection_status.csv', Buffer.from(statusCsv(contents.status), 'utf8'));
    manifest['data_collection_status.csv'] = STATUS_VERSION;
    names.push('data_collection_status.csv');
    await addBuffer('manifest.json', Buffer.from(pythonJson(manifest), 'utf8'));
    names.push('manifest.json');
    pack.finalize();
    await written;
  } catch (err) {
    pack.destroy(err as Error);
    await written.catch(() => {});
    await rm(path, { force: true });
    throw err;
  }
  return { path, members: names, dataBytes, bytes: (await stat(path)).size };
}
