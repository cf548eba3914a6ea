/**
 * The extraction itself: node builtins and tar-stream only, so that it can run in a worker
 * thread with a small heap (see extract-worker.ts). Errors are plain: `Refused` for a tarball
 * refused as a whole, or a stream error; `extractTarballFile` turns them into ExtractErrors.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
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

/** Counts bytes as they are read and fails as soon as the shared budget is exceeded. */
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
}

/**
 * Counts a CSV's records as its bytes go by: line ends outside double quotes (RFC 4180, where
 * `""` inside a quoted field toggles twice), less the header line.
 */
export class RecordCounter {
  private lines = 0;
  private quoted = false;
  private last = -1;
  count(chunk: Buffer): void {
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

/** Write all of `chunk` at `position` of the file (a write may be short). */
async function writeAt(fd: FileHandle, chunk: Buffer, position: number): Promise<void> {
  for (let at = 0; at < chunk.length; ) at += (await fd.write(chunk, at, chunk.length - at, position + at)).bytesWritten;
}

/**
 * Writes of one member, up to WRITES_IN_FLIGHT at a time, each at its own position: inflating
 * the next chunks goes on while earlier ones are written (awaiting each write before reading on
 * left the inflate idle during every write: ~10 % longer per tarball in a loaded A/B).
 */
class MemberWriter {
  private position = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private failed: unknown;
  constructor(private readonly fd: FileHandle) {}
  async write(chunk: Buffer): Promise<void> {
    if (this.failed !== undefined) throw this.failed;
    const p = writeAt(this.fd, chunk, this.position).then(
      () => void this.inFlight.delete(p),
      (err: unknown) => {
        this.inFlight.delete(p);
        this.failed ??= err;
      },
    );
    this.position += chunk.length;
    this.inFlight.add(p);
    if (this.inFlight.size >= WRITES_IN_FLIGHT) await Promise.race(this.inFlight);
  }
  /** Wait for every write to settle (never throws). */
  async settled(): Promise<void> {
    await Promise.all(this.inFlight);
  }
  /** Wait for every write; throws the first write error. */
  async flush(): Promise<void> {
    await this.settled();
    if (this.failed !== undefined) throw this.failed;
  }
}
const WRITES_IN_FLIGHT = 4;

/**
 * Extract the wanted `.csv`/`.json` members of a local `.tar.gz` into `destDir`; returns
 * [member base name, path] pairs.
 * Only regular top-level members named like `name.csv`/`name.json` are written; directories,
 * AppleDouble `._*` files and unwanted members are skipped. Symlinks, hard links, devices,
 * FIFOs, absolute or `..` paths, duplicates, more than `maxMembers` entries or more than
 * `maxTotalBytes` of data refuse the whole tarball. Caps are enforced while streaming, so a
 * gzip bomb stops early. Throws an Error whose message says what was wrong; `destDir` may
 * then hold partial files and must be discarded.
 *
 * One stream stage per step that needs one (read, inflate, tar): the hash, the byte caps, the
 * record count and the member writes act on each chunk where it arrives, so a 1 MiB chunk costs
 * no extra Transform or write stream on the worker's thread.
 */
export async function extractFile(path: string, destDir: string, limits: FileLimits = {}): Promise<Extracted> {
  const maxMembers = limits.maxMembers ?? DEFAULT_MAX_MEMBERS;
  const maxTotal = limits.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES;
  const wanted = limits.only ? new Set(limits.only) : undefined;
  const data = new Budget(maxTotal, 'uncompressed member data');
  const raw = new Budget(maxTotal + HEADER_SLACK + maxMembers * 1536, 'uncompressed size');
  const files = new Map<string, string>();
  const records: [string, number][] = [];
  const hash = createHash('sha256');
  let size = 0;
  const input = createReadStream(path, { highWaterMark: CHUNK });
  // Large chunks: per-chunk stream overhead, not inflate, dominated with the 16/64 KiB defaults.
  const gunzip = createGunzip({ chunkSize: CHUNK });
  const extract = tar.extract();
  // 'data' listeners see every chunk that the pipeline passes on, in order.
  input.on('data', (chunk: Buffer | string) => {
    // No encoding is set: always a Buffer.
    hash.update(chunk);
    size += chunk.length;
  });
  gunzip.on('data', (chunk: Buffer) => {
    try {
      raw.take(chunk.length);
    } catch (err) {
      gunzip.destroy(err as Error);
    }
  });
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
      if (!keep) {
        // Skipped data still counts: a bomb hidden in an ignored member must stop too.
        for await (const chunk of entry as AsyncIterable<Buffer>) data.take(chunk.length);
        continue;
      }
      if (files.has(base)) throw new Refused(`member "${base}" appears twice`);
      const target = join(destDir, base);
      const counter = base.endsWith('.csv') ? new RecordCounter() : undefined;
      const fd = await open(target, 'wx', 0o600);
      const writer = new MemberWriter(fd);
      try {
        for await (const chunk of entry as AsyncIterable<Buffer>) {
          data.take(chunk.length);
          counter?.count(chunk);
          await writer.write(chunk);
        }
        await writer.flush();
      } finally {
        // Every write settled before the descriptor closes, also when the member failed.
        await writer.settled();
        await fd.close();
      }
      if (counter) records.push([base, counter.records]);
      files.set(base, target);
    }
  })();

  // Either side failing stops the other (a destroyed extract ends both); wait for both to settle.
  const stop = (err: unknown) => {
    extract.destroy();
    throw err;
  };
  const settled = await Promise.allSettled([pipeline(input, gunzip, extract).catch(stop), consume.catch(stop)]);
  const errors = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  if (errors.length > 0) {
    // The cause, not the other side's "destroyed" or "premature close" that it led to.
    const err = errors.find((e) => e instanceof Refused) ?? errors.find((e) => !STOPPED.has((e as { code?: string }).code ?? '')) ?? errors[0];
    throw err instanceof Refused ? err : new Error(describeStreamError(err), { cause: err });
  }
  return { files: [...files], records, sha256: hash.digest('hex'), size };
}

/** Error codes of a stream ended because another stream of the extraction failed. */
const STOPPED = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'PREMATURE_CLOSE', 'STREAM_DESTROYED']);

function describeStreamError(err: unknown): string {
  const code = (err as { code?: string }).code;
  const msg = err instanceof Error ? err.message : String(err);
  if (code === 'Z_BUF_ERROR' || /unexpected end/i.test(msg)) return `truncated archive (${msg})`;
  if (code === 'Z_DATA_ERROR') return `corrupt gzip data (${msg})`;
  return `unreadable archive (${msg})`;
}

