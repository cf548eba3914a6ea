import { createReadStream, createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ExtractError, errorMessage, tempdir } from '@tally/core';
import tar from 'tar-stream';
import type { ExtractedTarball, ExtractLimits } from './types.js';

export const DEFAULT_MAX_MEMBERS = 100;
export const DEFAULT_MAX_TOTAL_BYTES = 1024 ** 3;
/** Slack for tar headers (512 B each, pax records) on top of the member-data cap. */
const HEADER_SLACK = 1024 * 1024;
const CHUNK = 1024 * 1024;
const SAFE_MEMBER = /^[A-Za-z0-9_][A-Za-z0-9_.-]*\.(csv|json)$/;

/** Reasons a tarball is refused as a whole (it then contributes nothing). */
class Refused extends Error {}

function onlySet(only: ExtractLimits['only']): Set<string> | undefined {
  if (only === undefined) return undefined;
  return new Set(typeof only === 'string' ? [only] : only);
}

/** Strip `./` prefixes; refuse absolute paths and any `..` segment. */
function memberPath(raw: string): string {
  if (raw.includes('\0')) throw new Refused(`member "${raw}" contains a NUL byte`);
  if (raw.startsWith('/') || /^[A-Za-z]:[\\/]/.test(raw)) throw new Refused(`member "${raw}" has an absolute path`);
  const parts = raw.split(/[\\/]/).filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new Refused(`member "${raw}" escapes the extraction directory ("..")`);
  return parts.join('/');
}

/** Counts bytes flowing through and fails as soon as the shared budget is exceeded. */
class Budget {
  used = 0;
  constructor(
    readonly limit: number,
    readonly what: string,
  ) {}
  take(n: number): void {
    this.used += n;
    if (this.used > this.limit) throw new Refused(`${this.what} exceeds the cap of ${this.limit} bytes`);
  }
  meter(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc, cb: TransformCallback) => {
        try {
          this.take(chunk.length);
          cb(null, chunk);
        } catch (err) {
          cb(err as Error);
        }
      },
    });
  }
}

const sink = () =>
  new Writable({
    write(_chunk, _enc, cb) {
      cb();
    },
  });

/**
 * Extract the wanted `.csv`/`.json` members of a local `.tar.gz` into `destDir`.
 * Only regular top-level members named like `name.csv`/`name.json` are written; directories,
 * AppleDouble `._*` files and unwanted members are skipped. Symlinks, hard links, devices,
 * FIFOs, absolute or `..` paths, duplicates, more than `maxMembers` entries or more than
 * `maxTotalBytes` of data refuse the whole tarball. Caps are enforced while streaming, so a
 * gzip bomb stops early. Throws an `ExtractError` naming `name`; `destDir` may then hold
 * partial files and must be discarded.
 */
export async function extractTarballFile(
  path: string,
  destDir: string,
  name: string,
  limits: ExtractLimits = {},
): Promise<Map<string, string>> {
  const maxMembers = limits.maxMembers ?? DEFAULT_MAX_MEMBERS;
  const maxTotal = limits.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES;
  const wanted = onlySet(limits.only);
  const data = new Budget(maxTotal, 'uncompressed member data');
  const raw = new Budget(maxTotal + HEADER_SLACK + maxMembers * 1536, 'uncompressed size');
  const files = new Map<string, string>();
  const extract = tar.extract();
  let members = 0;

  const consume = (async () => {
    for await (const entry of extract) {
      const h = entry.header;
      members += 1;
      if (members > maxMembers) throw new Refused(`more than ${maxMembers} members`);
      const rel = memberPath(h.name);
      const base = rel.split('/').pop() ?? '';
      let keep = false;
      if (h.type === 'directory') keep = false;
      else if (h.type === 'file' || h.type === 'contiguous-file') {
        keep = !rel.includes('/') && !base.startsWith('._') && SAFE_MEMBER.test(base) && (!wanted || wanted.has(base));
      } else {
        throw new Refused(`member "${h.name}" is a ${h.type}; only regular files are accepted`);
      }
      if (keep) {
        if (files.has(base)) throw new Refused(`member "${base}" appears twice`);
        const target = join(destDir, base);
        await pipeline(entry, data.meter(), createWriteStream(target, { flags: 'wx', mode: 0o600, highWaterMark: CHUNK }));
        files.set(base, target);
      } else {
        // Skipped data still counts: a bomb hidden in an ignored member must stop too.
        await pipeline(entry, data.meter(), sink());
      }
    }
  })();

  try {
    // Large chunks: per-chunk stream overhead, not inflate, dominated with the 16/64 KiB defaults.
    await Promise.all([
      pipeline(createReadStream(path, { highWaterMark: CHUNK }), createGunzip({ chunkSize: CHUNK }), raw.meter(), extract),
      consume,
    ]);
  } catch (err) {
    extract.destroy();
    await consume.catch(() => {});
    const msg = err instanceof Refused ? err.message : describeStreamError(err);
    throw new ExtractError(name, msg, { cause: err });
  }
  return files;
}

function describeStreamError(err: unknown): string {
  const code = (err as { code?: string }).code;
  const msg = errorMessage(err);
  if (code === 'Z_BUF_ERROR' || /unexpected end/i.test(msg)) return `truncated archive (${msg})`;
  if (code === 'Z_DATA_ERROR') return `corrupt gzip data (${msg})`;
  return `unreadable archive (${msg})`;
}

/** Extract a local tarball into a fresh private temp directory (removed again on failure). */
export async function extractTarball(
  path: string,
  opts: ExtractLimits & { name?: string; tempParent?: string } = {},
): Promise<ExtractedTarball> {
  const name = opts.name ?? path;
  const dir = await tempdir('tally-extract', opts.tempParent);
  let files: Map<string, string>;
  try {
    files = await extractTarballFile(path, dir.path, name, opts);
  } catch (err) {
    await dir.remove();
    throw err;
  }
  let config: Promise<Record<string, unknown> | undefined> | undefined;
  const release = () => dir.remove();
  return {
    name,
    dir: dir.path,
    files,
    file: (member: string) => files.get(member),
    config: () => {
      config ??= readConfig(files.get('config.json'));
      return config;
    },
    release,
    [Symbol.asyncDispose]: release,
  };
}

async function readConfig(path: string | undefined): Promise<Record<string, unknown> | undefined> {
  if (!path) return undefined;
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
