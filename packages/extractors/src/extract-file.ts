/**
 * The extraction itself: node builtins and tar-stream only, so that it can run in a worker
 * thread with a small heap (see extract-worker.ts). Errors are plain: `Refused` for a tarball
 * refused as a whole, or a stream error; `extractTarballFile` turns them into ExtractErrors.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Transform, type TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';

/** Caps and filter of one extraction, as plain data (they cross to the worker). */
export interface FileLimits {
  only?: readonly string[] | undefined;
  maxMembers?: number | undefined;
  maxTotalBytes?: number | undefined;
}

export const DEFAULT_MAX_MEMBERS = 100;
export const DEFAULT_MAX_TOTAL_BYTES = 1024 ** 3;
/** Slack for tar headers (512 B each, pax records) on top of the member-data cap. */
const HEADER_SLACK = 1024 * 1024;
const CHUNK = 1024 * 1024;
const SAFE_MEMBER = /^[A-Za-z0-9_][A-Za-z0-9_.-]*\.(csv|json)$/;

/** Reasons a tarball is refused as a whole (it then contributes nothing). */
class Refused extends Error {}

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

/**
 * Counts a CSV's records as its bytes flow through: line ends outside double quotes (RFC 4180,
 * where `""` inside a quoted field toggles twice), less the header line.
 */
export class RecordCounter extends Transform {
  private lines = 0;
  private quoted = false;
  private last = -1;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.count(chunk);
    cb(null, chunk);
  }
  private count(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.last = chunk[chunk.length - 1]!;
    let q = chunk.indexOf(0x22);
    let n = chunk.indexOf(0x0a);
    for (;;) {
      if (this.quoted) {
        if (q < 0) return;
        this.quoted = false;
        const at = q + 1;
        q = chunk.indexOf(0x22, at);
        if (n >= 0 && n < at) n = chunk.indexOf(0x0a, at);
      } else if (n >= 0 && (q < 0 || n < q)) {
        this.lines += 1;
        n = chunk.indexOf(0x0a, n + 1);
      } else if (q >= 0) {
        this.quoted = true;
        q = chunk.indexOf(0x22, q + 1);
      } else return;
    }
  }
  /** Data records seen (0 for an empty file or a header alone). */
  get records(): number {
    const lines = this.lines + (this.last !== -1 && this.last !== 0x0a ? 1 : 0);
    return Math.max(0, lines - 1);
  }
}

/** What one extraction read: the members written, and the tarball's bytes as read. */
export interface Extracted {
  files: [string, string][];
  /** SHA-256 (hex) and size of the compressed tarball, hashed while it was read. */
  sha256: string;
  size: number;
  /** Data records of each CSV member written. */
  records: [string, number][];
}

/** Hashes the bytes flowing through. */
function hasher(): { stream: Transform; digest: () => { sha256: string; size: number } } {
  const hash = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  return { stream, digest: () => ({ sha256: hash.digest('hex'), size }) };
}

const sink = () =>
  new Writable({
    write(_chunk, _enc, cb) {
      cb();
    },
  });

/**
 * Extract the wanted `.csv`/`.json` members of a local `.tar.gz` into `destDir`; returns
 * [member base name, path] pairs.
 * Only regular top-level members named like `name.csv`/`name.json` are written; directories,
 * AppleDouble `._*` files and unwanted members are skipped. Symlinks, hard links, devices,
 * FIFOs, absolute or `..` paths, duplicates, more than `maxMembers` entries or more than
 * `maxTotalBytes` of data refuse the whole tarball. Caps are enforced while streaming, so a
 * gzip bomb stops early. Throws an Error whose message says what was wrong; `destDir` may
 * then hold partial files and must be discarded.
 */
export async function extractFile(path: string, destDir: string, limits: FileLimits = {}): Promise<Extracted> {
  const maxMembers = limits.maxMembers ?? DEFAULT_MAX_MEMBERS;
  const maxTotal = limits.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES;
  const wanted = limits.only ? new Set(limits.only) : undefined;
  const data = new Budget(maxTotal, 'uncompressed member data');
  const raw = new Budget(maxTotal + HEADER_SLACK + maxMembers * 1536, 'uncompressed size');
  const files = new Map<string, string>();
  const records: [string, number][] = [];
  const read = hasher();
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
        const write = createWriteStream(target, { flags: 'wx', mode: 0o600, highWaterMark: CHUNK });
        if (base.endsWith('.csv')) {
          const counter = new RecordCounter();
          await pipeline(entry, data.meter(), counter, write);
          records.push([base, counter.records]);
        } else await pipeline(entry, data.meter(), write);
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
      pipeline(createReadStream(path, { highWaterMark: CHUNK }), read.stream, createGunzip({ chunkSize: CHUNK }), raw.meter(), extract),
      consume,
    ]);
  } catch (err) {
    extract.destroy();
    await consume.catch(() => {});
    throw err instanceof Refused ? err : new Error(describeStreamError(err), { cause: err });
  }
  return { files: [...files], records, ...read.digest() };
}

function describeStreamError(err: unknown): string {
  const code = (err as { code?: string }).code;
  const msg = err instanceof Error ? err.message : String(err);
  if (code === 'Z_BUF_ERROR' || /unexpected end/i.test(msg)) return `truncated archive (${msg})`;
  if (code === 'Z_DATA_ERROR') return `corrupt gzip data (${msg})`;
  return `unreadable archive (${msg})`;
}

