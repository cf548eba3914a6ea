import { isUtf8 } from 'node:buffer';
import { open } from 'node:fs/promises';
import { ExtractError, errorMessage } from '@tally/core';
import { CSV_SCHEMAS, csvHeaderVersion } from '@tally/extractors';
import { ident, literal, type TallyDuckDb } from './duckdb.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A CSV member that does not read as its schema; its tarball is refused whole. `line` is the
 * 1-based line of the file (the header is line 1) once known.
 */
export class CsvError extends ExtractError {
  constructor(
    /** The tarball (or file) refused. */
    source: string,
    readonly member: string,
    readonly reason: string,
    readonly line?: number,
    /** Set while the line is not known yet: what `explainCsvError` needs to find it. */
    readonly unexplained?: { path: string; header: readonly string[] },
    options?: { cause?: unknown },
  ) {
    super(source, line === undefined ? `${member}: ${reason}` : `${member}: line ${line}: ${reason}`, options);
  }
}

/**
 * The header of a CSV file (first line; BOM, CR and quotes stripped). An empty file gives `[]`.
 * Names must be plain identifiers: they end up in a `read_csv(columns=…)` argument.
 */
export async function readCsvHeader(path: string, source = path, member = 'CSV'): Promise<string[]> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    let text = buf.subarray(0, bytesRead).toString('utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const nl = text.indexOf('\n');
    if (nl < 0 && bytesRead === buf.length) throw new CsvError(source, member, 'header line longer than 64 KiB', 1);
    const line = (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, '');
    if (line.trim() === '') return [];
    return line.split(',').map((raw) => {
      const name = raw.trim().replace(/^"(.*)"$/, '$1');
      if (!NAME.test(name)) throw new CsvError(source, member, `header has an unexpected column name "${name}"`, 1);
      return name;
    });
  } finally {
    await fh.close();
  }
}

/**
 * The header of a tarball member, checked against the member's known schema versions: `[]` for
 * an empty file, else the column names; a header of no known version throws a `CsvError`.
 */
export async function readMemberHeader(path: string, source: string, member: string): Promise<string[]> {
  const header = await readCsvHeader(path, source, member);
  if (header.length === 0) return header;
  const version = csvHeaderVersion(member, header);
  if ('error' in version) throw new CsvError(source, member, version.error, 1);
  return header;
}

/**
 * DuckDB `read_csv` call for `path` as parameter `$n` (or a list literal), every header column
 * read as VARCHAR unless `types` names another type for it (plain identifiers, like the header
 * names). Strict: an unterminated quote, a row with more or fewer fields than the header, or a
 * value that does not parse as its type fails the read (an empty field is NULL). The decimal
 * separator is `,`, which no unquoted field of a comma-separated file can hold: a DOUBLE column
 * then refuses `2.5` in the reader, with its line.
 */
export function readCsvSql(header: readonly string[], param: string, types: Readonly<Record<string, string>> = {}, extra = ''): string {
  const columns = header.map((c) => `'${c}': '${types[c] ?? 'VARCHAR'}'`).join(', ');
  return (
    `read_csv(${param}, header = true, auto_detect = false, delim = ',', quote = '"', escape = '"', decimal_separator = ',', ` +
    `columns = {${columns}}, strict_mode = true, null_padding = false${extra})`
  );
}

/**
 * The header columns of `member` that are counts (canonical names per its schema's aliases).
 * The reader reads them as DOUBLE (parsed as fast as BIGINT, which would round `2.5`); `wholeNumber` checks them.
 */
export function integerColumns(member: string, header: readonly string[]): string[] {
  const schema = CSV_SCHEMAS[member];
  return header.filter((c) => schema?.integers.includes(schema.aliases?.[c] ?? c));
}

/** The header columns of `member` that are timestamps (canonical names per its schema's aliases). */
export function timestampColumns(member: string, header: readonly string[]): string[] {
  const schema = CSV_SCHEMAS[member];
  return header.filter((c) => schema?.timestamps.includes(schema.aliases?.[c] ?? c));
}

/** Reader types of `member`'s count columns in `header`. */
export function integerTypes(member: string, header: readonly string[]): Record<string, string> {
  return Object.fromEntries(integerColumns(member, header).map((c) => [c, 'DOUBLE']));
}

const TYPE_NAMES: Record<string, string> = { DOUBLE: 'an integer', TIMESTAMP: 'a timestamp', 'TIMESTAMP WITH TIME ZONE': 'a timestamp' };

const REASONS: Record<string, (column: string | null, message: string) => string> = {
  'UNQUOTED VALUE': () => 'a quoted value is not closed (unterminated quote)',
  'MISSING COLUMNS': (_c, m) => `missing fields (${m.replace(/^Expected Number of Columns: (\d+) Found: (\d+).*/s, 'expected $1, found $2')})`,
  'TOO MANY COLUMNS': (_c, m) => `extra fields (${m.replace(/^Expected Number of Columns: (\d+) Found: (\d+).*/s, 'expected $1, found $2')})`,
  CAST: (c, m) => {
    const value = /Could not convert string "(.*)" to '([\w ]+)'/s.exec(m);
    if (!value) return m;
    return `column ${c}: "${value[1]!.slice(0, 80)}" is not ${TYPE_NAMES[value[2]!] ?? value[2]}`;
  },
};

let rejectsCounter = 0;

/**
 * Find why and where `path` (a CSV member with `header`) does not read as its schema: one strict
 * scan with counts typed DOUBLE (`2.5` fails with the `,` decimal separator) and timestamps TIMESTAMP, collecting rejected lines into a
 * temporary rejects table. Undefined when every line reads. Runs outside any transaction (after
 * the failed one was rolled back); only ever on bad input.
 */
export async function findCsvProblem(
  db: TallyDuckDb,
  path: string,
  member: string,
  header: readonly string[],
): Promise<{ line: number; reason: string } | undefined> {
  const schema = CSV_SCHEMAS[member];
  const canonical = (c: string) => schema?.aliases?.[c] ?? c;
  const types = integerTypes(member, header);
  // TIMESTAMP, not TIMESTAMPTZ: the reader turns a TIMESTAMPTZ it cannot parse into NULL.
  for (const c of header) if (schema?.timestamps.includes(canonical(c))) types[c] = 'TIMESTAMP';
  const checked = Object.keys(types);
  const n = ++rejectsCounter;
  const errors = `tally_csv_rejects_${process.pid}_${n}`;
  const scans = `tally_csv_reject_scans_${process.pid}_${n}`;
  const extra = `, store_rejects = true, rejects_table = ${literal(errors)}, rejects_scan = ${literal(scans)}`;
  // Hashing the checked columns makes the reader convert them (unread columns are not converted).
  const force = checked.length ? `hash(${checked.map(ident).join(', ')})` : '0';
  try {
    await db.all(`SELECT max(${force}) FROM ${readCsvSql(header, '$1', types, extra)}`, [path]);
    const [first] = await db.all<{ line: bigint; column_name: string | null; error_type: string; error_message: string }>(
      `SELECT line, column_name, CAST(error_type AS VARCHAR) AS error_type, error_message FROM ${ident(errors)} ORDER BY line LIMIT 1`,
    );
    if (!first) return undefined;
    const reason = REASONS[first.error_type]?.(first.column_name, first.error_message) ?? first.error_message;
    return { line: Number(first.line), reason };
  } finally {
    await db.run(`DROP TABLE IF EXISTS ${ident(errors)}`);
    await db.run(`DROP TABLE IF EXISTS ${ident(scans)}`);
  }
}

/**
 * `err` with the line and reason of its CSV problem when it is an unexplained `CsvError` (see
 * `findCsvProblem`); any other error as it is. Call after the failed transaction was rolled back.
 */
export async function explainCsvError(db: TallyDuckDb, err: unknown): Promise<unknown> {
  if (!(err instanceof CsvError) || !err.unexplained) return err;
  let problem: { line: number; reason: string } | undefined;
  try {
    problem = await findCsvProblem(db, err.unexplained.path, err.member, err.unexplained.header);
  } catch (inner) {
    // A problem the rejects scan cannot collect (e.g. invalid UTF-8) fails it: its message says why.
    const line = /CSV Error on Line: (\d+)/.exec(errorMessage(inner))?.[1];
    if (line) problem = { line: Number(line), reason: firstLine(errorMessage(inner).replace(/^.*?CSV Error on Line: \d+\s*/s, '')) };
  }
  if (!problem) return new CsvError(err.file, err.member, err.reason, undefined, undefined, { cause: err });
  return new CsvError(err.file, err.member, problem.reason, problem.line, undefined, { cause: err });
}

/** The meaningful first line of a DuckDB error message (without "Original Line:" echoes). */
function firstLine(message: string): string {
  const lines = message.split('\n').map((l) => l.trim()).filter((l) => l && !/^Original Line:/.test(l));
  return lines[0] ?? message;
}

/**
 * Does the CSV file hold a data row after its header (a non-blank line, as pandas counts rows)?
 * Reads only as far as the first such line.
 */
export async function csvHasRows(path: string, source = path): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    let pos = 0;
    let headerDone = false;
    let inQuotes = false;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) return false;
      pos += bytesRead;
      for (let i = 0; i < bytesRead; i++) {
        const c = buf[i]!;
        if (!headerDone) {
          // A header may not be quoted across lines, but a quote keeps a newline inside it.
          if (c === 0x22) inQuotes = !inQuotes;
          else if (c === 0x0a && !inQuotes) headerDone = true;
          continue;
        }
        if (c !== 0x0a && c !== 0x0d && c !== 0x20 && c !== 0x09) return true;
      }
    }
  } catch (err) {
    throw new ExtractError(source, `CSV could not be read: ${(err as Error).message}`, { cause: err });
  } finally {
    await fh.close();
  }
}

/**
 * Refuse a CSV member holding bytes that are not UTF-8 (a `CsvError` naming the line), anywhere in the
 * file: DuckDB 1.5's strict `read_csv` fails on such a byte with an internal error that invalidates the
 * whole database when the column is read past the ones it projects, so one bad tarball would stop
 * every other. (metrics-utility's pandas read refuses such a file too.) 1 MiB steps; a character cut
 * by a step is carried into the next.
 */
export async function assertUtf8(path: string, source: string, member: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(1024 * 1024);
    let carried = 0;
    let lines = 1;
    for (;;) {
      const { bytesRead } = await fh.read(buf, carried, buf.length - carried, null);
      const end = carried + bytesRead;
      const whole = bytesRead === 0 ? end : completeUtf8(buf, end);
      const chunk = buf.subarray(0, whole);
      if (!isUtf8(chunk)) {
        const at = firstInvalidUtf8(chunk);
        throw new CsvError(source, member, 'a byte sequence that is not UTF-8', lines + countNewlines(chunk.subarray(0, at)));
      }
      if (bytesRead === 0) return;
      lines += countNewlines(chunk);
      buf.copy(buf, 0, whole, end);
      carried = end - whole;
    }
  } finally {
    await fh.close();
  }
}

/** Where a UTF-8 sequence cut by the end of `buf[0, end)` starts (`end` when none is cut). */
function completeUtf8(buf: Buffer, end: number): number {
  for (let i = end - 1; i >= Math.max(0, end - 3); i--) {
    const b = buf[i]!;
    if ((b & 0xc0) === 0x80) continue;
    const length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return i + length > end ? i : end;
  }
  return end;
}

/** The offset of the first byte of `buf` that starts no valid UTF-8 character (only called on invalid input). */
function firstInvalidUtf8(buf: Buffer): number {
  for (let i = 0; i < buf.length; ) {
    const b = buf[i]!;
    const length = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (length === 0 || !isUtf8(buf.subarray(i, i + length))) return i;
    i += length;
  }
  return buf.length;
}

function countNewlines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1)) n += 1;
  return n;
}
