/**
 * A synchronous tar reader with tar-stream's rules (checksum, ustar/GNU magic, pax and GNU long
 * names, "Unexpected end of data"): the extraction inflates into one reused buffer, so every byte
 * must be handled before the next inflate call, which tar-stream's queued entry streams do not allow.
 */

/** One entry of the archive, its long names and pax records applied. */
export interface TarEntry {
  name: string;
  /** tar-stream's type names; null for a typeflag it does not know. */
  type: string | null;
  size: number;
}

/** Where an entry's data goes: every byte of it (also for skipped members, which still count). */
export interface TarSink {
  data(buf: Buffer, start: number, end: number): void;
  end(): void;
}

const BLOCK = 512;
/** tar-stream's cap on a pax or GNU long-name record. */
const MAX_LONG_HEADER = 4 * 1024 * 1024;
const TYPES: Record<number, string> = {
  0: 'file', 1: 'link', 2: 'symlink', 3: 'character-device', 4: 'block-device', 5: 'directory', 6: 'fifo',
  7: 'contiguous-file', 72: 'pax-header', 55: 'pax-global-header', 27: 'gnu-long-link-path', 28: 'gnu-long-path', 30: 'gnu-long-path',
};
const USTAR = Buffer.from('ustar\0', 'latin1');
const GNU = Buffer.from('ustar ', 'latin1');
const GNU_VERSION = Buffer.from(' \0', 'latin1');

export class TarReader {
  private readonly block = Buffer.alloc(BLOCK);
  private fill = 0;
  /** Data bytes of the current entry (or long-header record) still to come, then its padding. */
  private missing = 0;
  private pad = 0;
  private sink: TarSink | undefined;
  private long: { type: string; buf: Buffer; at: number } | undefined;
  private longPath: string | undefined;
  private pax: Record<string, string> | undefined;
  private paxGlobal: Record<string, string> | undefined;

  constructor(private readonly onEntry: (entry: TarEntry) => TarSink) {}

  /** Hand on `buf[start, end)`; throws what the archive breaks (or what the sinks throw). */
  push(buf: Buffer, start: number, end: number): void {
    let at = start;
    while (at < end) {
      if (this.missing > 0) at = this.takeData(buf, at, end);
      else if (this.pad > 0) {
        const n = Math.min(this.pad, end - at);
        this.pad -= n;
        at += n;
      } else {
        const n = Math.min(BLOCK - this.fill, end - at);
        buf.copy(this.block, this.fill, at, at + n);
        this.fill += n;
        at += n;
        if (this.fill === BLOCK) {
          this.fill = 0;
          this.header();
        }
      }
    }
  }

  /** The archive's bytes ended: throws when they ended inside a header, an entry or its padding. */
  finish(): void {
    if (this.missing > 0 || this.pad > 0 || this.fill > 0) throw new Error('Unexpected end of data');
  }

  private takeData(buf: Buffer, at: number, end: number): number {
    const n = Math.min(this.missing, end - at);
    this.missing -= n;
    if (this.long) {
      buf.copy(this.long.buf, this.long.at, at, at + n);
      this.long.at += n;
      if (this.missing === 0) this.endLong(this.long);
    } else {
      this.sink!.data(buf, at, at + n);
      if (this.missing === 0) this.endEntry();
    }
    return at + n;
  }

  private header(): void {
    const h = decodeHeader(this.block);
    if (!h) return; // a zero block (the end-of-archive marker, or padding)
    if (h.type === 'pax-header' || h.type === 'pax-global-header' || h.type === 'gnu-long-path' || h.type === 'gnu-long-link-path') {
      if (!(h.size >= 0) || h.size > MAX_LONG_HEADER) throw new Error('Header exceeds max size');
      this.long = { type: h.type, buf: Buffer.alloc(h.size), at: 0 };
      this.missing = h.size;
      this.pad = padding(h.size);
      if (h.size === 0) this.endLong(this.long);
      return;
    }
    if (this.longPath !== undefined) h.name = this.longPath;
    this.longPath = undefined;
    if (this.pax) {
      if (this.pax.path) h.name = this.pax.path;
      if (this.pax.size) h.size = parseInt(this.pax.size, 10);
      this.pax = undefined;
    }
    if (!(h.size >= 0)) throw new Error('Invalid header');
    this.sink = this.onEntry(h);
    // A directory's size is not data that follows (as in tar-stream).
    const size = h.type === 'directory' ? 0 : h.size;
    this.missing = size;
    this.pad = padding(size);
    if (size === 0) this.endEntry();
  }

  private endEntry(): void {
    const sink = this.sink!;
    this.sink = undefined;
    sink.end();
  }

  private endLong(long: { type: string; buf: Buffer }): void {
    this.long = undefined;
    if (long.type === 'gnu-long-path') this.longPath = cString(long.buf, 0, long.buf.length, 'utf8');
    else if (long.type === 'pax-global-header') this.paxGlobal = decodePax(long.buf);
    else if (long.type === 'pax-header') this.pax = { ...this.paxGlobal, ...decodePax(long.buf) };
    // A GNU long link name: links are refused whatever their target.
  }
}

function padding(size: number): number {
  const rest = size % BLOCK;
  return rest === 0 ? 0 : BLOCK - rest;
}

/** A header block as tar-stream decodes it; null for a block whose bytes are all zero but the checksum field. */
function decodeHeader(b: Buffer): TarEntry | null {
  let sum = 8 * 32;
  for (let i = 0; i < 148; i++) sum += b[i]!;
  for (let i = 156; i < BLOCK; i++) sum += b[i]!;
  if (sum === 8 * 32) return null;
  if (sum !== octal(b, 148, 8)) throw new Error('Invalid tar header. Maybe the tar is corrupted or it needs to be gunzipped?');
  let name = cString(b, 0, 100, 'utf8');
  if (b.subarray(257, 263).equals(USTAR)) {
    if (b[345]) name = `${cString(b, 345, 155, 'utf8')}/${name}`;
  } else if (!(b.subarray(257, 263).equals(GNU) && b.subarray(263, 265).equals(GNU_VERSION))) {
    throw new Error('Invalid tar header: unknown format.');
  }
  let flag = b[156] === 0 ? 0 : b[156]! - 48;
  // Old tars mark a directory by a trailing slash only.
  if (flag === 0 && name.endsWith('/')) flag = 5;
  return { name, type: TYPES[flag] ?? null, size: octal(b, 124, 12) };
}

/** A numeric field: octal text (spaces or NULs around it) or GNU base-256 (first byte 0x80 / 0xff). */
function octal(b: Buffer, offset: number, length: number): number {
  const f = b.subarray(offset, offset + length);
  if (f[0]! & 0x80) {
    if (f[0] !== 0x80 && f[0] !== 0xff) return NaN;
    const positive = f[0] === 0x80;
    let sum = 0;
    for (let i = 1; i < f.length; i++) sum = sum * 256 + (positive ? f[i]! : 0xff - f[i]!);
    return positive ? sum : -sum;
  }
  let i = 0;
  while (i < f.length && f[i] === 32) i++;
  let end = f.indexOf(32, i);
  if (end < 0) end = f.length;
  while (i < end && f[i] === 0) i++;
  return i === end ? 0 : parseInt(f.toString('latin1', i, end), 8);
}

function cString(b: Buffer, offset: number, length: number, encoding: BufferEncoding): string {
  const nul = b.indexOf(0, offset);
  return b.toString(encoding, offset, nul < 0 || nul > offset + length ? offset + length : nul);
}

/** pax records `LEN key=value\n`; as tar-stream, the first malformed one ends the list. */
function decodePax(buf: Buffer): Record<string, string> {
  const result: Record<string, string> = {};
  for (let at = 0; at < buf.length; ) {
    const space = buf.indexOf(32, at);
    const len = parseInt(buf.toString('utf8', at, space < 0 ? buf.length : space), 10);
    if (!len || space < 0) return result;
    const record = buf.toString('utf8', space + 1, at + len - 1);
    const eq = record.indexOf('=');
    if (eq === -1) return result;
    result[record.slice(0, eq)] = record.slice(eq + 1);
    at += len;
  }
  return result;
}
