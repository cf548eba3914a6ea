import { ReportError } from '@tally/core';
import type ExcelJS from 'exceljs';
import type { DataRow, Value } from './queries.js';
import type { DataRowsXml, DataStyleIds } from './row-xml-sql.js';
import { DATE_FORMAT, font } from './styles.js';
import { type Style, WorkbookWriter, type Worksheet } from './xlsx-writer.js';

export type { Worksheet, WorkbookWriter };

let excel: Promise<typeof ExcelJS> | undefined;

/** All of exceljs (reading workbooks back), loaded on first use. */
export function loadExcel(): Promise<typeof ExcelJS> {
  excel ??= import('exceljs').then((m) => m.default);
  return excel;
}

/** A streaming workbook writing to `filename` (on its `commit`). */
export function openWorkbook(filename: string): Promise<WorkbookWriter> {
  return Promise.resolve(new WorkbookWriter(filename));
}

/** Excel refuses sheet titles over 31 characters or with `[]:*?/\`. */
export function sheetTitle(name: string, taken: Set<string>): string {
  let base = name.replace(/[[\]:*?/\\]/g, '_').slice(0, 31) || 'Sheet';
  let title = base;
  for (let i = 1; taken.has(title.toLowerCase()); i++) {
    const suffix = ` (${i})`;
    base = base.slice(0, 31 - suffix.length);
    title = `${base}${suffix}`;
  }
  taken.add(title.toLowerCase());
  return title;
}

export function setWidths(ws: Worksheet, widths: Record<number, number>): void {
  for (const [col, w] of Object.entries(widths)) ws.getColumn(Number(col)).width = w;
}

/**
 * A pandas-style data table at row 1: bold Arial 10 headers (row height 25), then the
 * values in Arial 10; Date cells get the datetime number format.
 */
export function writeDataTable(ws: Worksheet, headers: readonly string[], rows: readonly DataRow[]): void {
  writeHeaders(ws, headers, rows.length);
  ws.addDataRows(rows, { ...dataStyles(), cellValue });
}

/** Rows a batched data table holds at once. */
const TABLE_BATCH = 4096;

/**
 * `writeDataTable` of `count` rows made a batch at a time by `rowAt` (the same sheet): a long table's
 * cell values are never all held at once.
 */
export function writeDataTableBatched(ws: Worksheet, headers: readonly string[], count: number, rowAt: (i: number) => DataRow): void {
  writeHeaders(ws, headers, count);
  const styles = { ...dataStyles(), cellValue };
  for (let from = 0; from === 0 || from < count; from += TABLE_BATCH) {
    const rows: DataRow[] = [];
    for (let i = from; i < Math.min(count, from + TABLE_BATCH); i++) rows.push(rowAt(i));
    ws.addDataRows(rows, styles);
  }
}

/** The row of a data table's rows written as XML by SQL (row-xml-sql.ts) after `writeDataTable`'s headers. */
export const DATA_XML_FIRST_ROW = 2;

/**
 * `writeDataTable` of rows whose XML SQL writes (row-xml-sql.ts) from `DATA_XML_FIRST_ROW` on: the
 * same sheet. `xml` is asked once the headers are written, when the numbers of the rows' styles
 * are known; when it gives undefined (a value SQL cannot write), `fallback`'s rows are written.
 */
export async function writeDataTableXml(
  ws: Worksheet,
  headers: readonly string[],
  xml: (styles: DataStyleIds) => Promise<DataRowsXml | undefined>,
  fallback: () => Promise<DataRow[]>,
): Promise<void> {
  writeHeaderRow(ws, headers);
  const styles = dataStyles();
  const rows = await xml(ws.dataStyleIds(styles));
  if (rows) {
    checkSheetSize(ws.name, rows.rows + 1, headers.length);
    ws.addDataRowsXml(rows, styles);
    return;
  }
  const values = await fallback();
  checkSheetSize(ws.name, values.length + 1, headers.length);
  ws.addDataRows(values, { ...styles, cellValue });
}

function writeHeaders(ws: Worksheet, headers: readonly string[], rows: number): void {
  checkSheetSize(ws.name, rows + 1, headers.length);
  writeHeaderRow(ws, headers);
}

function writeHeaderRow(ws: Worksheet, headers: readonly string[]): void {
  const head = ws.addRow([...headers]);
  head.height = 25;
  head.eachCell((c) => {
    c.font = font(10, { bold: true });
  });
  head.commit();
}

/** One style object per kind of cell, shared by every cell of a table (numbered once). */
function dataStyles(): { text: Style; date: Style } {
  return { text: { font: font(10) }, date: { font: font(10), numFmt: DATE_FORMAT } };
}

/** Excel keeps at most this many characters in a cell, and "repairs" a workbook with a longer one. */
export const EXCEL_MAX_CELL_TEXT = 32_767;

/**
 * A text too long for a cell (a Renewal Guidance node's joined identifiers can be) is cut to fit,
 * saying so in the cell: the workbook still opens in Excel. Numbers are never touched.
 */
export function cellValue(v: Value): Value {
  if (typeof v !== 'string' || v.length <= EXCEL_MAX_CELL_TEXT) return v;
  const note = ` … [cut: ${v.length.toLocaleString('en')} characters in all]`;
  let end = EXCEL_MAX_CELL_TEXT - note.length;
  // Never split a UTF-16 surrogate pair (half a character is not valid XML).
  const last = v.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return v.slice(0, end) + note;
}

/** Excel's limits: a bigger sheet is still written, but Excel refuses it or "repairs" it by cutting rows. */
export const EXCEL_MAX_ROWS = 1_048_576;
export const EXCEL_MAX_COLUMNS = 16_384;

/** Fail, before writing, a sheet Excel could not open (the reference's pandas refuses it too). */
export function checkSheetSize(sheet: string, rows: number, columns: number): void {
  if (rows <= EXCEL_MAX_ROWS && columns <= EXCEL_MAX_COLUMNS) return;
  throw new ReportError(
    `sheet "${sheet}" would have ${rows.toLocaleString('en')} rows and ${columns.toLocaleString('en')} columns; ` +
      `Excel allows at most ${EXCEL_MAX_ROWS.toLocaleString('en')} rows and ${EXCEL_MAX_COLUMNS.toLocaleString('en')} columns`,
  );
}

export const DATA_WIDTHS: Record<number, number> = { 1: 40, 2: 20, 3: 20, 4: 20, 5: 20, 6: 20, 7: 20 };

/** Read a workbook back (tests and tools verifying what was written). */
export async function readWorkbook(path: string): Promise<ExcelJS.Workbook> {
  const wb = new (await loadExcel()).Workbook();
  await wb.xlsx.readFile(path);
  return wb;
}
