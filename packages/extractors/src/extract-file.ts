/**
 * The extraction itself: node builtins only, so that it can run in a worker thread with a small
 * heap (see extract-worker.ts). Errors are plain: `Refused` for a tarball refused as a whole, or
 * an unreadable archive; `extractTarballFile` turns them into ExtractErrors.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipFileSync, ZlibError } from './gunzip-sync.js';
import { type TarEntry, TarReader, type TarSink } from './tar-reader.js';

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

/**
 * Extract the wanted `.csv`/`.json` members of a local `.tar.gz` into `destDir`; returns
 * [member base name, path] pairs.
 * Only regular top-level members named like `name.csv`/`name.json` are written; directories,
 * AppleDouble `._*` files and unwanted members are skipped. Symlinks, hard links, devices,
 * FIFOs, absolute or `..` paths, duplicates, more than `maxMembers` entries or more than
 * `maxTotalBytes` of data refuse the whole tarball. Caps are enforced while inflating, so a
 * gzip bomb stops early. Throws an Error whose message says what was wrong; `destDir` may
 * then hold partial files and must be discarded.
 *
 * Synchronous, on purpose (it runs on a worker thread of its own, see extract-in-worker.ts):
 * each 1 MiB of inflated bytes goes through the tar reader, the caps, the record count and a
 * `writeSync` before the next is inflated into the same buffer. The async stream form spent
 * ~2× the CPU on fresh output buffers, their page faults and GCs, and thread-pool hops.
 */
export function extractFileSync(path: string, destDir: string, limits: FileLimits = {}): Extracted {
  const maxMembers = limits.maxMembers ?? DEFAULT_MAX_MEMBERS;
  const maxTotal = limits.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES;
  const data = new Budget(maxTotal, 'uncompressed member data');
  const raw = new Budget(maxTotal + HEADER_SLACK + maxMembers * 1536, 'uncompressed size');
  const members = new Members(destDir, limits.only ? new Set(limits.only) : undefined, maxMembers, data);
  const hash = createHash('sha256');
  let size = 0;
  const tar = new TarReader((entry) => members.entry(entry));
  try {
    gunzipFileSync(
      path,
      (chunk) => {
        hash.update(chunk);
        size += chunk.length;
      },
      (buf, end) => {
        raw.take(end);
        tar.push(buf, 0, end);
      },
    );
    tar.finish();
  } catch (err) {
    throw err instanceof Refused ? err : new Error(describeArchiveError(err), { cause: err });
  } finally {
    members.close();
  }
  return { files: [...members.files], records: members.records, sha256: hash.digest('hex'), size };
}

/** The members of one tarball: which are kept, refused or skipped, and the kept ones' writes. */
class Members {
  readonly files = new Map<string, string>();
  readonly records: [string, number][] = [];
  private count = 0;
  private fd: number | undefined;
  constructor(
    private readonly destDir: string,
    private readonly wanted: Set<string> | undefined,
    private readonly maxMembers: number,
    private readonly data: Budget,
  ) {}

  entry(h: TarEntry): TarSink {
    this.count += 1;
    if (this.count > this.maxMembers) throw new Refused(`more than ${this.maxMembers} members`);
    const rel = memberPath(h.name);
    const base = rel.split('/').pop() ?? '';
    if (h.type !== 'directory' && h.type !== 'file' && h.type !== 'contiguous-file') {
      throw new Refused(`member "${h.name}" is a ${h.type ?? 'member of an unknown type'}; only regular files are accepted`);
    }
    const keep = h.type !== 'directory' && !rel.includes('/') && !base.startsWith('._') && SAFE_MEMBER.test(base) && (!this.wanted || this.wanted.has(base));
    // Skipped data still counts: a bomb hidden in an ignored member must stop too.
    if (!keep) return { data: (_b, start, end) => this.data.take(end - start), end: () => {} };
    if (this.files.has(base)) throw new Refused(`member "${base}" appears twice`);
    const target = join(this.destDir, base);
    const counter = base.endsWith('.csv') ? new RecordCounter() : undefined;
    const fd = openSync(target, 'wx', 0o600);
    this.fd = fd;
    let position = 0;
    return {
      data: (buf, start, end) => {
        this.data.take(end - start);
        counter?.count(buf.subarray(start, end));
        for (let at = start; at < end; ) at += writeSync(fd, buf, at, end - at, position + at - start);
        position += end - start;
      },
      end: () => {
        this.close();
        if (counter) this.records.push([base, counter.records]);
        this.files.set(base, target);
      },
    };
  }

  /** Close the member being written, if any (also when the extraction failed). */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    closeSync(fd);
  }
}

function describeArchiveError(err: unknown): string {
  const code = err instanceof ZlibError ? err.code : undefined;
  const msg = err instanceof Error ? err.message : String(err);
  if (code === 'Z_BUF_ERROR' || /unexpected end/i.test(msg)) return `truncated archive (${msg})`;
  if (code === 'Z_DATA_ERROR') return `corrupt gzip data (${msg})`;
  return `unreadable archive (${msg})`;
}
