import { open, stat } from 'node:fs/promises';
import { ConfigError } from '@tally/core';

/** What send-to-segment sends of a file: its rows (or items), how many, and how it was read. */
export interface UploadFile {
  data: unknown;
  row_count: number;
  file_type: 'csv' | 'json';
}

const FIELD = '--file';
const refuse = (message: string) => new ConfigError(`send-to-segment: ${message}`, { field: FIELD });

/**
 * Read `path` as metrics-utility's send_to_segment does (`_read_file`): `.csv` as CSV rows, `.json` as a
 * list of items, any other name as CSV. The reference falls back to `{content, lines}` text only when
 * Python's csv module raises, which for UTF-8 text happens only with a field over 131 072 characters:
 * never within `maxBytes`. `shown` names the file in every refusal.
 */
export async function readUploadFile(path: string, shown: string, maxBytes: number): Promise<UploadFile> {
  const text = decodeUtf8(await readBounded(path, shown, maxBytes), shown);
  // Python opens the file in text mode: universal newlines turn \r\n and \r into \n, even inside quotes.
  const normalized = text.replace(/\r\n?/g, '\n');
  if (pythonSuffix(shown) === '.json') return readJson(normalized, shown);
  const data = dictReaderRows(normalized);
  return { data, row_count: data.length, file_type: 'csv' };
}

/** `Path(p).suffix.lower()`: from the last dot of the name, unless the name starts or ends there. */
function pythonSuffix(path: string): string {
  const name = path.replace(/\/+$/, '').split('/').at(-1) ?? '';
  const i = name.lastIndexOf('.');
  return i > 0 && i < name.length - 1 ? name.slice(i).toLowerCase() : '';
}

/** At most `maxBytes` of a regular file; anything larger is refused before it is read whole. */
async function readBounded(path: string, shown: string, maxBytes: number): Promise<Buffer> {
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw refuse(err.code === 'ENOENT' || err.code === 'ENOTDIR' ? `file not found: ${shown}` : `cannot read ${shown}: ${err.message}`);
  });
  if (!info.isFile()) throw refuse(`path is not a file: ${shown}`);
  const tooLarge = (size: string) =>
    refuse(`${shown} is ${size}, over ${maxBytes} bytes: one Segment event carries at most 32 KiB, so the file is not sent`);
  if (info.size > maxBytes) throw tooLarge(`${info.size} bytes`);
  const fh = await open(path, 'r').catch((err: Error) => {
    throw refuse(`cannot read ${shown}: ${err.message}`);
  });
  try {
    // One byte more than allowed tells a file that grew since stat from one that fits.
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    for (let r = 1; r > 0 && n < buf.length; n += r) r = (await fh.read(buf, n, buf.length - n, null)).bytesRead;
    if (n > maxBytes) throw tooLarge(`more than ${maxBytes} bytes`);
    return buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}

/** UTF-8 as Python's strict codec reads it; a byte-order mark stays (the reference opens with `utf-8`, not `utf-8-sig`). */
function decodeUtf8(buf: Buffer, shown: string): string {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  try {
    return decoder.decode(buf);
  } catch {
    // Newline bytes never occur inside a multi-byte sequence, so lines decode on their own.
    let start = 0;
    for (let line = 1; ; line++) {
      const end = buf.indexOf(0x0a, start);
      try {
        decoder.decode(buf.subarray(start, end < 0 ? buf.length : end));
      } catch {
        throw refuse(`${shown}: line ${line} is not valid UTF-8`);
      }
      if (end < 0) throw refuse(`${shown} is not valid UTF-8`);
      start = end + 1;
    }
  }
}

/** `json.load`: a list stays a list, an object becomes `[object]`, anything else `[{value}]`. */
function readJson(text: string, shown: string): UploadFile {
  const problem = jsonProblem(text);
  if (problem) throw refuse(`${shown}: ${lineOf(text, problem.at)}: ${problem.reason}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw refuse(`${shown} is not valid JSON: ${(err as Error).message.replace(/\s+/g, ' ')}`);
  }
  if (Array.isArray(value)) return { data: value, row_count: value.length, file_type: 'json' };
  if (value !== null && typeof value === 'object') return { data: [value], row_count: 1, file_type: 'json' };
  return { data: [{ value }], row_count: 1, file_type: 'json' };
}

function lineOf(text: string, at: number): string {
  const before = text.slice(0, at);
  return `line ${before.split('\n').length}, column ${at - before.lastIndexOf('\n')}`;
}

/** Whitespace, then one JSON token: punctuation, a string, a number or a literal (none at an error or the end). */
const JSON_TOKEN = /[ \t\n\r]*(?:([{}[\],:])|("(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*")|(-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?)|(true|false|null))?/y;
type Want = 'value' | 'valueOrClose' | 'key' | 'keyOrClose' | 'colon' | 'commaOrClose' | 'end';

/**
 * Where `text` stops being JSON (JSON.parse names the place only sometimes), or the first number
 * JavaScript would change where Python keeps it: an integer beyond ±(2^53 − 1), a number beyond the
 * float range. Offsets are of the token's first character.
 */
function jsonProblem(text: string): { at: number; reason: string } | undefined {
  const stack: string[] = [];
  let want: Want = 'value';
  for (let i = 0; ; ) {
    JSON_TOKEN.lastIndex = i;
    const m = JSON_TOKEN.exec(text) as RegExpExecArray; // the pattern matches at least the empty string
    const token = m[1] ?? m[2] ?? m[3] ?? m[6];
    const at = i + m[0].length - (token?.length ?? 0);
    i += m[0].length;
    if (token === undefined) {
      if (at === text.length) return want === 'end' ? undefined : { at, reason: 'not valid JSON: the file ends too early' };
      return { at, reason: `not valid JSON: unexpected ${JSON.stringify(text[at])}` };
    }
    if (m[3] !== undefined) {
      const n = Number(m[3]);
      if (!Number.isFinite(n) || (m[4] === undefined && m[5] === undefined && !Number.isSafeInteger(n))) {
        return { at, reason: `${m[3]} cannot be sent as written: JavaScript keeps integers exact only to 2^53 and numbers finite only to about 1.8e308` };
      }
    }
    const next = nextWant(stack, want, m[1], m[2] !== undefined);
    if (!next) return { at, reason: `not valid JSON: unexpected ${JSON.stringify(token)}` };
    want = next;
  }
}

/** The JSON grammar as a state machine: what may follow `punct` (or a string or other scalar), or undefined. */
function nextWant(stack: string[], want: Want, punct: string | undefined, isString: boolean): Want | undefined {
  const afterValue = (): Want => (stack.length ? 'commaOrClose' : 'end');
  const close = (): Want | undefined => (stack.pop() === (punct === '}' ? '{' : '[') ? afterValue() : undefined);
  if (want === 'value' || want === 'valueOrClose') {
    if (punct === undefined) return afterValue();
    if (punct === '{' || punct === '[') {
      stack.push(punct);
      return punct === '{' ? 'keyOrClose' : 'valueOrClose';
    }
    return want === 'valueOrClose' && punct === ']' ? close() : undefined;
  }
  if (want === 'key' || want === 'keyOrClose') return isString ? 'colon' : want === 'keyOrClose' && punct === '}' ? close() : undefined;
  if (want === 'colon') return punct === ':' ? 'value' : undefined;
  if (want === 'commaOrClose') {
    if (punct === ',') return stack.at(-1) === '{' ? 'key' : 'value';
    return punct === '}' || punct === ']' ? close() : undefined;
  }
  return undefined;
}

const EOL = -1;
type State = 'record' | 'field' | 'unquoted' | 'quoted' | 'quoteInQuoted' | 'eatNewline';
interface CsvParse {
  records: string[][];
  fields: string[];
  field: string;
  state: State;
}

function endField(p: CsvParse, next: State): void {
  p.fields.push(p.field);
  p.field = '';
  p.state = next;
}

/** One character, or the end of a line, through CPython's `parse_process_char` (excel dialect, strict off). */
function csvStep(p: CsvParse, c: string | typeof EOL): void {
  if (p.state === 'record') {
    if (c === EOL) return; // an empty line: the record [] ends
    if (c === '\n') {
      p.state = 'eatNewline';
      return;
    }
    p.state = 'field';
  }
  const lineEnd = c === '\n' || c === EOL;
  if (p.state === 'field' || p.state === 'unquoted') {
    if (lineEnd) endField(p, c === EOL ? 'record' : 'eatNewline');
    else if (c === '"' && p.state === 'field') p.state = 'quoted';
    else if (c === ',') endField(p, 'field');
    else {
      p.field += c;
      p.state = 'unquoted';
    }
  } else if (p.state === 'quoted') {
    if (c === '"') p.state = 'quoteInQuoted';
    else if (c !== EOL) p.field += c;
  } else if (p.state === 'quoteInQuoted') {
    if (lineEnd) endField(p, c === EOL ? 'record' : 'eatNewline');
    else if (c === ',') endField(p, 'field');
    else {
      // `""` is a quote; any other character after a closing quote is kept (strict off).
      p.field += c;
      p.state = c === '"' ? 'quoted' : 'unquoted';
    }
  } else if (c === EOL) p.state = 'record'; // eatNewline: a line ends right after its \n
}

/**
 * Python's `csv.reader` (excel dialect, strict off) over text whose lines end in \n: unquoted fields
 * take quotes literally, `"a"b` reads `ab`, an unterminated quote runs to the end, a blank line is `[]`.
 */
export function pythonCsvRecords(text: string): string[][] {
  const p: CsvParse = { records: [], fields: [], field: '', state: 'record' };
  for (const line of text.match(/[^\n]*\n|[^\n]+$/g) ?? []) {
    for (const c of line) csvStep(p, c);
    csvStep(p, EOL);
    if (p.state === 'record') {
      p.records.push(p.fields);
      p.fields = [];
    }
  }
  // The input ends inside quotes: the field so far ends the last record (strict off).
  if (p.state === 'quoted') {
    endField(p, 'record');
    p.records.push(p.fields);
  }
  return p.records;
}

/**
 * `[dict(row) for row in csv.DictReader(f)]`: the first record names the fields; blank records are
 * skipped; missing values are null; extra values go, as a list, under the key `null` (restkey None).
 * Integer-like keys come first in a JavaScript object, so their order can differ from Python's.
 */
export function dictReaderRows(text: string): Record<string, unknown>[] {
  const [header, ...records] = pythonCsvRecords(text);
  if (!header) return [];
  const rows: Record<string, unknown>[] = [];
  for (const record of records) {
    if (!record.length) continue;
    // A null prototype keeps a column named __proto__ an ordinary key.
    const row: Record<string, unknown> = Object.create(null);
    header.forEach((name, i) => {
      if (i < record.length) row[name] = record[i];
    });
    if (record.length > header.length) row.null = record.slice(header.length);
    else for (const name of header.slice(record.length)) row[name] = null;
    rows.push(row);
  }
  return rows;
}
