import { createReadStream } from 'node:fs';

/**
 * Parse CSV text into records of fields (RFC 4180 quoting, CRLF or LF). As in
 * PostgreSQL's CSV, an unquoted empty field is null and a quoted one is ''.
 */
export function parseCsv(text: string): (string | null)[][] {
  const records: (string | null)[][] = [];
  const tokens = new CsvRecords((r) => records.push(r));
  tokens.push(text);
  tokens.end();
  return records;
}

/**
 * Parse RFC 4180 CSV (quoted fields, doubled quotes, CRLF or LF, optional BOM)
 * into row objects keyed by the header. Values stay strings; an empty unquoted
 * field becomes null, as pandas reads it as missing. Blank lines are skipped; a
 * row whose field count differs from the header's is refused with its row number.
 */
export function parseCsvRows(text: string): Record<string, string | null>[] {
  const rows: Record<string, string | null>[] = [];
  const parser = new CsvRows(() => {}, (row) => rows.push(row));
  parser.push(text);
  parser.end();
  return rows;
}

/**
 * `parseCsvRows` of a file, read in chunks of `chunkBytes`: only the current row is held, so memory
 * stays bounded however many rows the file has. `onHeader` gets the header before the first row.
 */
export async function streamCsvRows(
  path: string,
  onHeader: (header: string[]) => void,
  onRow: (row: Record<string, string | null>) => void,
  chunkBytes = 1 << 20,
): Promise<void> {
  const parser = new CsvRows(onHeader, onRow);
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: chunkBytes })) parser.push(chunk as string);
  parser.end();
}

/** Records keyed by the first one (the header), as `parseCsvRows` describes them; text may come in any chunks. */
class CsvRows {
  private header: string[] | undefined;
  private first = true;
  private dataRecords = 0;
  private readonly records = new CsvRecords((r) => this.record(r));

  constructor(
    private readonly onHeader: (header: string[]) => void,
    private readonly onRow: (row: Record<string, string | null>) => void,
  ) {}

  push(text: string): void {
    if (this.first && text.length > 0) {
      this.first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.records.push(text);
  }

  end(): void {
    this.records.end();
  }

  private record(r: (string | null)[]): void {
    if (this.header === undefined) {
      this.header = r.map((h) => h ?? '');
      this.onHeader(this.header);
      return;
    }
    if (r.length === 1 && r[0] === null) return;
    const line = this.dataRecords++ + 2;
    if (r.length !== this.header.length) throw new Error(`CSV row ${line} has ${r.length} fields; the header has ${this.header.length}`);
    const row: Record<string, string | null> = {};
    for (let j = 0; j < r.length; j++) row[this.header[j]!] = r[j] ?? null;
    this.onRow(row);
  }
}

/**
 * A copy of a field that does not hold on to its chunk: V8 makes a slice of 13 or more characters
 * a view into the whole (1 MiB) chunk, so one such value kept by a caller (a job type, an
 * organization name) would keep every chunk it came from alive. Flattening `' ' + s` copies it.
 */
const own = (s: string): string => (s.length < 13 ? s : (' ' + s).slice(1));

const QUOTE = 0x22,
  COMMA = 0x2c,
  LF = 0x0a,
  CR = 0x0d;

/** The CSV tokenizer behind every reader here: text in any chunks, each record handed on as it ends. */
class CsvRecords {
  private record: (string | null)[] = [];
  private field = '';
  private quoted = false;
  private wasQuoted = false;
  /** The last chunk ended in CR: a LF opening the next one belongs to it. */
  private skipLf = false;
  /** A quote closed a quoted part at the end of a chunk: a quote opening the next one is a doubled quote. */
  private quoteAtEnd = false;

  constructor(private readonly onRecord: (record: (string | null)[]) => void) {}

  push(text: string): void {
    let i = 0;
    if (this.skipLf) {
      this.skipLf = false;
      if (text.charCodeAt(i) === LF) i++;
    }
    if (this.quoteAtEnd) {
      this.quoteAtEnd = false;
      if (text.charCodeAt(i) === QUOTE) {
        this.field += '"';
        this.quoted = true;
        i++;
      }
    }
    this.scan(text, i);
  }

  end(): void {
    if (this.quoted) throw new Error('CSV ends inside a quoted field');
    if (this.field !== '' || this.wasQuoted || this.record.length > 0) {
      this.endField();
      this.endRecord();
    }
  }

  private scan(text: string, from: number): void {
    let start = from;
    for (let i = from; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.quoted) {
        if (c !== QUOTE) continue;
        this.field += text.slice(start, i);
        if (i + 1 === text.length) {
          this.quoted = false;
          this.quoteAtEnd = true;
        } else if (text.charCodeAt(i + 1) === QUOTE) {
          this.field += '"';
          i++;
        } else this.quoted = false;
        start = i + 1;
      } else if (c === QUOTE) {
        this.field += text.slice(start, i);
        this.quoted = true;
        this.wasQuoted = true;
        start = i + 1;
      } else if (c === COMMA) {
        this.field += text.slice(start, i);
        this.endField();
        start = i + 1;
      } else if (c === LF || c === CR) {
        this.field += text.slice(start, i);
        if (c === CR) {
          if (i + 1 === text.length) this.skipLf = true;
          else if (text.charCodeAt(i + 1) === LF) i++;
        }
        this.endField();
        this.endRecord();
        start = i + 1;
      }
    }
    this.field += text.slice(start);
  }

  private endField(): void {
    this.record.push(this.field === '' && !this.wasQuoted ? null : own(this.field));
    this.field = '';
    this.wasQuoted = false;
  }

  private endRecord(): void {
    const r = this.record;
    this.record = [];
    this.onRecord(r);
  }
}
