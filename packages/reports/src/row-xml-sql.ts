import { WHITESPACE } from './padded-text.js';
import { columnLetters } from './row-xml.js';
import { EXCEL_MAX_CELL_TEXT } from './sheet.js';
import { DROPPED_CONTROLS, XML_ENTITIES } from './xml-text.js';

/**
 * A data table's rows written as sheet XML by DuckDB, batches of rows per UTF-8 BLOB, so that a
 * 20,000-row Managed nodes sheet never becomes JS values nor JS strings (converting them, and
 * then decoding, editing and encoding the XML again, was most of the workbook's time): the XML
 * `writeDataRows` (row-xml.ts) writes for the same rows, byte for byte (test/row-xml-sql.test.ts),
 * each cell's style number included: the sheet asks for the rows once the numbers its styles will
 * get are known (`Worksheet.dataStyleIds`). Values whose XML SQL does not reproduce exactly (a text
 * Excel cannot hold whole or one starting with U+FEFF, a timestamp out of the range where the date
 * serial's arithmetic is checked, a number not an integer below 2^53) mark the result unsafe: the
 * caller writes the rows from JS instead.
 */

/** The numbers of the text style (every cell but a timestamp's) and of the date style. */
export interface DataStyleIds {
  text: number;
  date: number;
}

/** How a column's values are written: texts, integer counts, timestamps (as Excel's date serials). */
export type SqlColumnKind = 'text' | 'integer' | 'timestamp';
export interface SqlColumn {
  /** An SQL expression over the source's columns. */
  expr: string;
  kind: SqlColumnKind;
}

/** Rows per string of XML. */
const BATCH = 1024;
/** Timestamps from 1900 up to 2100, the range test/row-xml-sql.test.ts checks. */
const FIRST_US = -2_208_988_800_000_000;
const LAST_US = 4_102_444_800_000_000;
const US_PER_DAY = 86_400_000_000;

const str = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** `xmlEncode` (xml-text.ts) in SQL; most texts have nothing to escape and skip the replaces. */
function encodeSql(v: string): string {
  let out = `regexp_replace(${v}, ${str(`[${DROPPED_CONTROLS}]`)}, '', 'g')`;
  // `&` first: the other entities' own `&` stays.
  for (const [ch, entity] of Object.entries(XML_ENTITIES)) out = `replace(${out}, ${str(ch)}, ${str(entity)})`;
  const special = `[${Object.keys(XML_ENTITIES).join('')}${DROPPED_CONTROLS}]`;
  return `CASE WHEN regexp_matches(${v}, ${str(special)}) THEN ${out} ELSE ${v} END`;
}

/**
 * A column's cells: values it computes once per row (`steps`, each step's columns may use the
 * previous steps'), its cells' XML (arguments of the row's concat) and whether a value is unsafe
 * (see above). `_r` is the row number as text, `i` the column's index (its computed columns' names).
 */
interface CellSql {
  steps: [string[], string[]];
  xml: string;
  unsafe: string;
}

function cellSql(col: SqlColumn, i: number, styles: DataStyleIds): CellSql {
  const v = `(${col.expr})`;
  // Parts of one concat() per row: a chain of `||` copies the row's text at every step.
  const open = (style: number) => `'<c r="${columnLetters(i + 1)}', _r, '" s="${style}"'`;
  if (col.kind === 'text') {
    const padded = `regexp_matches(${v}, ${str(`^[${WHITESPACE}]|[${WHITESPACE}]$`)}) AS _p${i}`;
    const xml = `${open(styles.text)}, CASE WHEN _e${i} IS NULL THEN '/>'
      WHEN _p${i} THEN concat(' t="inlineStr"><is><t xml:space="preserve">', _e${i}, '</t></is></c>')
      ELSE concat(' t="str"><v>', _e${i}, '</v></c>') END`;
    // Bytes bound characters: a text of at most that many bytes is never cut. A leading U+FEFF
    // never reaches JS (the binding's UTF-8 decoding drops it as a byte order mark).
    const unsafe = `coalesce(strlen(${v}) > ${EXCEL_MAX_CELL_TEXT} OR starts_with(${v}, ${str('\ufeff')}), false)`;
    return { steps: [[`${encodeSql(v)} AS _e${i}`, padded], []], xml, unsafe };
  }
  if (col.kind === 'integer') {
    const d = `_d${i}`;
    const xml = `${open(styles.text)}, CASE WHEN ${d} IS NULL THEN '/>' ELSE concat('><v>', TRY_CAST(${d} AS BIGINT), '</v></c>') END`;
    const unsafe = `coalesce(NOT (isfinite(${d}) AND ${d} = trunc(${d}) AND abs(${d}) < 9007199254740992), false)`;
    return { steps: [[`CAST(${v} AS DOUBLE) AS ${d}`], []], xml, unsafe };
  }
  // The serial openpyxl writes (excel-date.ts): whole days since 1899-12-30 plus (whole seconds +
  // µs / 10^6) / 86400, the same double operations in the same order, printed by printf's `%.16g`,
  // which rounds the exact value half to even as Python's format does. A NULL timestamp's cell has
  // the text style, as in writeDataRows.
  const [us, inDay, serial] = [`_u${i}`, `_m${i}`, `_s${i}`];
  const xml = `CASE WHEN ${us} IS NULL THEN concat(${open(styles.text)}, '/>') ELSE concat(${open(styles.date)}, '><v>', printf('%.16g', ${serial}), '</v></c>') END`;
  // Whole days since 1899-12-30, less one up to 1900-02-28 (openpyxl's shift for Excel's phantom 1900-02-29).
  const whole = `(${us} - ${inDay}) // ${US_PER_DAY} + 25569`;
  const day = `CASE WHEN ${whole} BETWEEN 1 AND 60 THEN ${whole} - 1 ELSE ${whole} END`;
  const seconds = `(${inDay} // 1000000 + (${inDay} % 1000000) / 1000000.0::DOUBLE)`;
  const steps: CellSql['steps'] = [
    [`epoch_us(${v}) AS ${us}`, `((epoch_us(${v}) % ${US_PER_DAY}) + ${US_PER_DAY}) % ${US_PER_DAY} AS ${inDay}`],
    [`(${day}) + ${seconds} / 86400.0 AS ${serial}`],
  ];
  return { steps, xml, unsafe: `coalesce(NOT (${us} >= ${FIRST_US} AND ${us} < ${LAST_US}), false)` };
}

/**
 * A statement giving the XML of `from`'s rows as data rows from row `first` on, in `orderBy`'s
 * order (which must be total), cells styled `styles`: a row per batch of rows, with what the writer
 * needs to know of them. Its result is read by `dataRowsXml`.
 */
export function dataRowsXmlSql(from: string, columns: readonly SqlColumn[], orderBy: string, first: number, styles: DataStyleIds): string {
  if (columns[0]?.kind !== 'text') throw new Error('the first column of data rows written by SQL must be a text (its style is numbered first)');
  // Style 0 (the default) is written without `s`; the data styles never are the default.
  if (![styles.text, styles.date].every((id) => Number.isInteger(id) && id > 0)) throw new Error(`data rows XML needs style numbers above 0, not ${styles.text} and ${styles.date}`);
  const cells = columns.map((c, i) => cellSql(c, i, styles));
  const step = (n: 0 | 1) => cells.flatMap((c) => c.steps[n]).map((e) => `, ${e}`).join('');
  const allNull = columns.map((c) => `(${c.expr}) IS NULL`).join(' AND ');
  const dates = columns.filter((c) => c.kind === 'timestamp').map((c) => `(${c.expr}) IS NOT NULL`);
  return `WITH t AS (SELECT *, row_number() OVER (ORDER BY ${orderBy}) - 1 AS _i${step(0)} FROM ${from}),
    x AS (SELECT *, (_i + ${first})::VARCHAR AS _r, ${allNull} AS _skipped${step(1)} FROM t)
    SELECT _i // ${BATCH} AS b,
      encode(string_agg(concat('<row r="', _r, '" spans="1:${columns.length}" x14ac:dyDescent="0.25">', ${cells.map((c) => c.xml).join(', ')}, '</row>'), '' ORDER BY _i)
        FILTER (WHERE NOT _skipped)) AS xml,
      bool_or(${cells.map((c) => c.unsafe).join(' OR ')}) AS unsafe, bool_or(${dates.length ? dates.join(' OR ') : 'false'}) AS dates,
      count(*) AS n, count(*) FILTER (WHERE NOT _skipped) AS filled
    FROM x GROUP BY b ORDER BY b`;
}

/** Data rows' XML and what the writer needs to number their styles. */
export interface DataRowsXml {
  /** The first row's number, and how many row numbers the rows take (rows of nulls included). */
  first: number;
  rows: number;
  /** The style numbers the XML holds. */
  styles: DataStyleIds;
  /** The rows' XML in UTF-8, in order. */
  batches: Uint8Array[];
  /** Is any row written (not all nulls)? Does any cell hold a timestamp? */
  filled: boolean;
  dates: boolean;
}

/** `dataRowsXmlSql`'s result (a row per batch), or undefined when a value is unsafe (the rows are then written from JS). */
export function dataRowsXml(result: readonly (readonly unknown[])[], first: number, styles: DataStyleIds): DataRowsXml | undefined {
  const out: DataRowsXml = { first, rows: 0, styles, batches: [], filled: false, dates: false };
  for (const [, xml, unsafe, dates, n, filled] of result) {
    if (unsafe === true) return undefined;
    if (xml instanceof Uint8Array) out.batches.push(xml);
    out.rows += Number(n);
    out.filled ||= Number(filled) > 0;
    out.dates ||= dates === true;
  }
  return out;
}
