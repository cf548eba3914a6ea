import type ExcelJS from 'exceljs';
import { PADDED } from './padded-text.js';
import type { Value } from './queries.js';

/**
 * A data table's rows written straight as sheet XML: exactly the XML exceljs's streaming writer
 * writes for them (with padded-text.ts's patch), without a Row, its Cells and their models per
 * row. On a 100k-row Managed nodes sheet exceljs's objects cost most of the workbook's time.
 * Relies on the streaming worksheet's internals (`_workbook.styles`, `_rows`, `_rowZero`,
 * `startedData`, `stream`), as padded-text.ts does on its renderer; the tests compare the workbooks cell by cell.
 */

/** exceljs's `Enums.ValueType` for the values a data row holds. */
const NULL = 0;
const NUMBER = 2;
const STRING = 3;
const DATE = 4;

interface Styles {
  addStyleModel(style: object, cellType?: number): number;
}
interface WriterInternals {
  _workbook: { styles: Styles };
  _rows: unknown[];
  _rowZero: number;
  /** Whether `<sheetData>` is open (exceljs opens it with the first row it writes). */
  startedData: boolean;
  stream: { write(xml: string): void };
}

/** Rows per write to the sheet's stream. */
const BATCH = 512;

export interface RowStyles {
  /** The rows' own style. */
  row: object;
  text: Partial<ExcelJS.Style>;
  date: Partial<ExcelJS.Style>;
}

/**
 * Write `rows` after the sheet's last committed row, each cell styled `styles.date` (Dates) or
 * `styles.text` (everything else), as `writeDataTable` did through exceljs, and return true;
 * false (nothing written) unless the sheet is a streaming one whose rows so far (the header) are
 * all committed.
 */
export function writeRowsXml(ws: ExcelJS.Worksheet, rows: readonly (readonly Value[])[], styles: RowStyles, text: TextRules): boolean {
  const w = ws as unknown as Partial<WriterInternals>;
  if (!w._workbook || !w.startedData || w._rowZero === undefined || w._rows?.length !== 0) return false;
  return writeRows(w as WriterInternals, rows, styles, text);
}

/** How exceljs escapes text, and what a value becomes in its cell (`cellValue` in sheet.ts). */
export interface TextRules {
  xmlEncode(text: string): string;
  cellValue(v: Value): Value;
}

function writeRows(w: WriterInternals, rows: readonly (readonly Value[])[], styles: RowStyles, { xmlEncode, cellValue }: TextRules): boolean {
  const registry = w._workbook.styles;
  // exceljs registers a style object on its first cell, numbered by that cell's type, and then
  // answers from a cache whatever the type: asking once per (style, type) gives the ids asking
  // per cell gives, registered in the same order.
  const ids: number[] = [];
  const styleId = (v: Value, date: boolean): number => {
    const type = cellType(v);
    const k = (date ? 8 : 0) + type;
    ids[k] ??= registry.addStyleModel(date ? styles.date : styles.text, type);
    return ids[k];
  };
  const letters: string[] = [];
  let rowStyle: string | undefined;
  let xml = '';
  let inBatch = 0;
  for (const values of rows) {
    const n = w._rowZero;
    w._rowZero = n + 1;
    if (values.every((v) => v === null)) continue; // exceljs leaves out a row without values
    // exceljs registers the row's style before its cells'.
    if (rowStyle === undefined) {
      const id = registry.addStyleModel(styles.row);
      rowStyle = id ? ` s="${id}" customFormat="1"` : '';
    }
    let row = `<row r="${n}" spans="1:${values.length}"${rowStyle} x14ac:dyDescent="0.25">`;
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as Value;
      const date = v instanceof Date;
      const id = styleId(v, date);
      letters[i] ??= columnLetters(i + 1);
      const open = id ? `<c r="${letters[i]}${n}" s="${id}"` : `<c r="${letters[i]}${n}"`;
      row += cellXml(open, id, date ? v : cellValue(v), xmlEncode);
    }
    xml += `${row}</row>`;
    if (++inBatch === BATCH) {
      w.stream.write(xml);
      xml = '';
      inBatch = 0;
    }
  }
  if (xml) w.stream.write(xml);
  return true;
}

function cellType(v: Value): number {
  if (v === null) return NULL;
  if (typeof v === 'number') return NUMBER;
  if (typeof v === 'string') return STRING;
  return DATE;
}

/** exceljs's cell-xform render (and padded-text.ts's) for one value, after its `<c r="…" s="…"`. */
function cellXml(open: string, styleId: number, v: Value, xmlEncode: (s: string) => string): string {
  if (v === null) return styleId ? `${open}/>` : '';
  // A number's text never holds a character xmlEncode escapes.
  if (typeof v === 'number') return `${open}><v>${v}</v></c>`;
  if (typeof v === 'string') {
    if (PADDED.test(v)) return `${open} t="inlineStr"><is><t xml:space="preserve">${xmlEncode(v)}</t></is></c>`;
    return `${open} t="str"><v>${xmlEncode(v)}</v></c>`;
  }
  // exceljs's utils.dateToExcel (1900 date system).
  return `${open}><v>${25569 + v.getTime() / (24 * 3600 * 1000)}</v></c>`;
}

/** 1 → A, 27 → AA. */
function columnLetters(col: number): string {
  let s = '';
  for (let c = col; c > 0; c = Math.floor((c - 1) / 26)) s = String.fromCharCode(65 + ((c - 1) % 26)) + s;
  return s;
}
