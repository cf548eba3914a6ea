import { type FileHandle, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { DEFAULT_MAX_DATA_SIZE } from './size.js';

const QUOTE = 0x22;
const NEWLINE = 0x0a;
const FLUSH_BYTES = 256 * 1024;

export interface CsvSplitterOptions {
  /** Directory the parts are written into. */
  dir: string;
  /** File stem: parts are `{key}_split{N}.csv`, or `{key}.csv` when there is only one. */
  key: string;
  /** A part is closed before a row that would take it past this many bytes (default 200 MiB). */
  maxFileSize?: number;
  /**
   * File name (inside `dir`) of part `index`. When given, every part is named by it,
   * a lone part too; by default a lone part is `{key}.csv` and several are `{key}_split{N}.csv`.
   */
  partName?: (index: number) => string;
}

/**
 * A writable stream that cuts CSV bytes into parts of at most `maxFileSize` bytes,
 * always between rows, each part starting with the header row.
 *
 * Unlike the reference (which counted characters and cut after the limit was
 * crossed, so a part could exceed it), the size is counted in bytes and a part is
 * closed *before* the row that would overflow it; a part only exceeds the limit
 * when a single row (plus header) is larger than the limit. Row ends are newlines
 * outside double quotes, so quoted fields holding newlines are never cut. Only the
 * current incomplete row is kept in memory.
 */
export class CsvSplitter extends Writable {
  readonly dir: string;
  readonly key: string;
  readonly maxFileSize: number;
  private readonly partName: ((index: number) => string) | undefined;
  private inQuote = false;
  private header: Buffer | undefined;
  /** Bytes of the current row seen in earlier chunks. */
  private carry: Buffer[] = [];
  private carryLength = 0;
  /** Complete rows of the current part not yet written. */
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private fh: FileHandle | undefined;
  private partSize = 0;
  private partRows = 0;
  private readonly parts: string[] = [];
  private done: string[] | undefined;

  constructor(opts: CsvSplitterOptions) {
    super({ decodeStrings: true });
    this.dir = opts.dir;
    this.key = opts.key;
    this.maxFileSize = opts.maxFileSize ?? DEFAULT_MAX_DATA_SIZE;
    this.partName = opts.partName;
    if (!Number.isInteger(this.maxFileSize) || this.maxFileSize <= 0) {
      throw new RangeError(`CsvSplitter ${this.key}: maxFileSize must be a positive whole number of bytes`);
    }
  }

  /** Every part created so far (for cleaning up after a failed stream). */
  get created(): string[] {
    return [...this.parts];
  }

  /** The parts, in order, once the stream has finished. */
  get files(): string[] {
    if (!this.done) throw new Error(`CsvSplitter ${this.key}: files are known only after the stream finished`);
    return [...this.done];
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.consume(chunk).then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.finish().then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const fh = this.fh;
    this.fh = undefined;
    if (!fh) {
      cb(err);
      return;
    }
    fh.close().then(
      () => cb(err),
      () => cb(err),
    );
  }

  private async consume(chunk: Buffer): Promise<void> {
    let rowStart = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === QUOTE) {
        this.inQuote = !this.inQuote;
      } else if (b === NEWLINE && !this.inQuote) {
        const tail = chunk.subarray(rowStart, i + 1);
        rowStart = i + 1;
        const row = this.carryLength ? Buffer.concat([...this.carry, tail]) : tail;
        this.carry = [];
        this.carryLength = 0;
        if (!this.header) {
          this.header = Buffer.from(row);
          await this.openPart();
          continue;
        }
        if (this.partRows > 0 && this.partSize + row.length > this.maxFileSize) await this.openPart();
        this.pending.push(row);
        this.pendingLength += row.length;
        this.partSize += row.length;
        this.partRows++;
      }
    }
    if (rowStart < chunk.length) {
      // A copy, so the rest of a large chunk is not kept alive by the partial row.
      const rest = Buffer.from(chunk.subarray(rowStart));
      this.carry.push(rest);
      this.carryLength += rest.length;
    }
    // COPY delivers about one row per chunk: write in batches, not a syscall per row.
    if (this.pendingLength >= FLUSH_BYTES) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.pendingLength = 0;
    // Rows are views of the producer's chunks, which a stream producer does not mutate once written.
    await this.fh!.writev(batch);
  }

  private async openPart(): Promise<void> {
    if (this.fh) {
      await this.flush();
      await this.fh.close();
      this.fh = undefined;
      if (this.parts.length === 1 && !this.partName) {
        // The first part was optimistically named `{key}.csv`.
        const renamed = join(this.dir, `${this.key}_split0.csv`);
        await rename(this.parts[0]!, renamed);
        this.parts[0] = renamed;
      }
    }
    const n = this.parts.length;
    const path = join(this.dir, this.partName ? this.partName(n) : n === 0 ? `${this.key}.csv` : `${this.key}_split${n}.csv`);
    this.fh = await open(path, 'wx', 0o600);
    this.parts.push(path);
    this.partSize = 0;
    this.partRows = 0;
    if (this.header) {
      await this.fh.write(this.header);
      this.partSize = this.header.length;
    }
  }

  private async finish(): Promise<void> {
    if (this.carryLength) {
      // A last row without a trailing newline.
      const row = Buffer.concat(this.carry);
      this.carry = [];
      this.carryLength = 0;
      if (!this.header) {
        this.header = row;
        await this.openPart();
      } else {
        if (this.partRows > 0 && this.partSize + row.length > this.maxFileSize) await this.openPart();
        this.pending.push(row);
        this.pendingLength += row.length;
        this.partRows++;
      }
    }
    if (!this.fh) await this.openPart(); // nothing at all: one empty file
    await this.flush();
    await this.fh!.close();
    this.fh = undefined;
    this.done = [...this.parts];
  }
}
