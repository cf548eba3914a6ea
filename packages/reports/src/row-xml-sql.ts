import { WHITESPACE } from './padded-text.js';
import { columnLetters } from './row-xml.js';
import { EXCEL_MAX_CELL_TEXT } from './sheet.js';
import { DROPPED_CONTROLS, XML_ENTITIES } from './xml-text.js';

/**
 * A data table's rows written as sheet XML by DuckDB, batches of rows per string, so that a
 * 20,000-row Managed nodes sheet never becomes JS values (converting them and writing their XML
 * was most of the workbook's time): the XML `writeDataRows` (row-xml.ts) writes for the same
 * rows, byte for byte (test/row-xml-sql.test.ts). Each cell's style is a placeholder character
 * (no text cell can hold one: control characters are dropped) the writer replaces with the
 * style's number. Values whose XML SQL does not reproduce exactly (a text Excel cannot hold
 * whole or one starting with U+FEFF, a timestamp out of the range where the date serial's arithmetic is checked, a number
 * not an integer below 2^53) mark the result unsafe: the caller writes the rows from JS instead.
 */

/** Style placeholders: the text style (every cell but a timestamp's) and the date style. */
export const TEXT_STYLE = '\x01';
export const DATE_STYLE = '\x02';

/** How a column's values are written: texts, integer counts, timestamps (as Excel's date serials). */
export type SqlColumnKind = 'text' | 'integer' | 'timestamp';
export interface SqlColumn {
  /** An SQL expression over the source's columns. */
  expr: string;
  kind: SqlColumnKind;
}

/** Rows per string of XML. */
const BATCH = 1024;
/** Timestamps from 1900 up to 2100: their milliseconds are below 2^42, where `Math.round(us / 1000)` is the exact rounding. */
const FIRST_US = -2_208_988_800_000_000;
const LAST_US = 4_102_444_800_000_000;

const str = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** `xmlEncode` (xml-text.ts) in SQL. */
function encodeSql(v: string): string {
  let out = `regexp_replace(${v}, ${str(`[${DROPPED_CONTROLS}]`)}, '', 'g')`;
  // `&` first: the other entities' own `&` stays.
  for (const [ch, entity] of Object.entries(XML_ENTITIES)) out = `replace(${out}, ${str(ch)}, ${str(entity)})`;
  return out;
}

/** The cell's XML and whether its value is unsafe (see above), `r` the row number as text. */
function cellSql(col: SqlColumn, letter: string): { xml: string; unsafe: string } {
  const v = `(${col.expr})`;
  const open = (style: string) => `'<c r="${letter}' || _r || '" s="${style}"'`;
  const empty = `${open(TEXT_STYLE)} || '/>'`;
  if (col.kind === 'text') {
    const padded = `regexp_matches(${v}, ${str(`^[${WHITESPACE}]|[${WHITESPACE}]$`)})`;
    const xml = `CASE WHEN ${v} IS NULL THEN ${empty}
      WHEN ${padded} THEN ${open(TEXT_STYLE)} || ' t="inlineStr"><is><t xml:space="preserve">' || ${encodeSql(v)} || '</t></is></c>'
      ELSE ${open(TEXT_STYLE)} || ' t="str"><v>' || ${encodeSql(v)} || '</v></c>' END`;
    // Bytes bound characters: a text of at most that many bytes is never cut. A leading U+FEFF
    // never reaches JS (the binding's UTF-8 decoding drops it as a byte order mark).
    return { xml, unsafe: `coalesce(strlen(${v}) > ${EXCEL_MAX_CELL_TEXT} OR starts_with(${v}, ${str('\ufeff')}), false)` };
  }
  if (col.kind === 'integer') {
    const d = `CAST(${v} AS DOUBLE)`;
    const xml = `CASE WHEN ${v} IS NULL THEN ${empty} ELSE ${open(TEXT_STYLE)} || '><v>' || TRY_CAST(${d} AS BIGINT) || '</v></c>' END`;
    return { xml, unsafe: `coalesce(NOT (isfinite(${d}) AND ${d} = trunc(${d}) AND abs(${d}) < 9007199254740992), false)` };
  }
  // The date serial as writeDataRows computes it: 25569 + ms / 86400000 in doubles, ms rounded from
  // microseconds as toDate rounds them, printed as JS prints a number (an integral double without `.0`).
  const us = `epoch_us(${v})`;
  const serial = `(25569 + floor((${us} + 500) / 1000) / 86400000)`;
  const text = `CASE WHEN ${serial} = trunc(${serial}) THEN CAST(CAST(${serial} AS BIGINT) AS VARCHAR) ELSE CAST(${serial} AS VARCHAR) END`;
  const xml = `CASE WHEN ${v} IS NULL THEN ${empty} ELSE ${open(DATE_STYLE)} || '><v>' || ${text} || '</v></c>' END`;
  return { xml, unsafe: `coalesce(NOT (${us} >= ${FIRST_US} AND ${us} < ${LAST_US}), false)` };
}

/**
 * A statement giving the XML of `from`'s rows as data rows from row `first` on, in `orderBy`'s
 * order (which must be total). Its result is read by `dataRowsXml`.
 */
export function dataRowsXmlSql(from: string, columns: readonly SqlColumn[], orderBy: string, first: number): string {
  if (columns[0]?.kind !== 'text') throw new Error('the first column of data rows written by SQL must be a text (its style is numbered first)');
  const cells = columns.map((c, i) => cellSql(c, columnLetters(i + 1)));
  const allNull = columns.map((c) => `(${c.expr}) IS NULL`).join(' AND ');
  const dates = columns.filter((c) => c.kind === 'timestamp').map((c) => `(${c.expr}) IS NOT NULL`);
  return `WITH t AS (SELECT *, row_number() OVER (ORDER BY ${orderBy}) - 1 AS _i FROM ${from}),
    x AS (SELECT *, (_i + ${first})::VARCHAR AS _r, ${allNull} AS _skipped, ${cells.map((c) => c.unsafe).join(' OR ')} AS _unsafe,
      ${dates.length ? dates.join(' OR ') : 'false'} AS _dates FROM t)
    SELECT -1 AS b, NULL AS xml, bool_or(_unsafe) AS unsafe, bool_or(_dates) AS dates, count(*) AS n, count(*) FILTER (WHERE NOT _skipped) AS filled FROM x
    UNION ALL
    SELECT _i // ${BATCH} AS b,
      string_agg('<row r="' || _r || '" spans="1:${columns.length}" x14ac:dyDescent="0.25">' || ${cells.map((c) => c.xml).join(' || ')} || '</row>', '' ORDER BY _i),
      NULL, NULL, NULL, NULL
    FROM x WHERE NOT _skipped GROUP BY b
    ORDER BY b`;
}

/** Data rows' XML (style placeholders in it) and what the writer needs to number their styles. */
export interface DataRowsXml {
  /** The first row's number, and how many row numbers the rows take (rows of nulls included). */
  first: number;
  rows: number;
  /** Strings of rows' XML, in order. */
  batches: string[];
  /** Is any row written (not all nulls)? Does any cell hold a timestamp? */
  filled: boolean;
  dates: boolean;
}

/** `dataRowsXmlSql`'s result, or undefined when a value is unsafe (the rows are then written from JS). */
export function dataRowsXml(result: readonly (readonly unknown[])[], first: number): DataRowsXml | undefined {
  const [head, ...batches] = result;
  if (!head || (head[0] !== -1 && head[0] !== -1n)) throw new Error('data rows XML: the summary row is missing');
  if (head[2] === true) return undefined;
  return { first, rows: Number(head[4]), batches: batches.map((b) => String(b[1])), filled: Number(head[5]) > 0, dates: head[3] === true };
}
