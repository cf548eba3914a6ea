import { ReportError } from '@tally/core';
import type ExcelJS from 'exceljs';
import { keepPaddedText, requireExceljs } from './padded-text.js';
import type { DataRow, Value } from './queries.js';
import { writeRowsXml } from './row-xml.js';
import { DATE_FORMAT, font } from './styles.js';

export type Worksheet = ExcelJS.Worksheet;

let excel: Promise<typeof ExcelJS> | undefined;
let writer: Promise<typeof ExcelJS.stream.xlsx.WorkbookWriter> | undefined;
/** exceljs's XML text escaping (loaded with the writer): data rows written as XML use it too. */
let xmlEncode: ((text: string) => string) | undefined;

/** All of exceljs (reading workbooks back), loaded on first use. */
export function loadExcel(): Promise<typeof ExcelJS> {
  excel ??= import('exceljs').then((m) => m.default);
  return excel;
}

/**
 * exceljs's streaming writer alone, loaded on first use (after the current task): all of exceljs
 * (readers, CSV) takes ~0.27 s of main-thread time to load, the writer ~0.12 s. A report calls
 * this once DuckDB is busy so that the load overlaps work on other threads.
 */
export function loadWorkbookWriter(): Promise<typeof ExcelJS.stream.xlsx.WorkbookWriter> {
  // Deep paths: exceljs has no `exports` map, and its index loads every reader too. Required,
  // not imported: exceljs is CommonJS, and an ESM import also lexes each file for its exports.
  writer ??= keepPaddedText().then(() => {
    xmlEncode = (requireExceljs('exceljs/lib/utils/utils.js') as { xmlEncode: (text: string) => string }).xmlEncode;
    return requireExceljs('exceljs/lib/stream/xlsx/workbook-writer.js') as typeof ExcelJS.stream.xlsx.WorkbookWriter;
  });
  return writer;
}

/** A streaming workbook writing straight to `filename` (styles on, inline strings). */
export async function openWorkbook(filename: string): Promise<ExcelJS.stream.xlsx.WorkbookWriter> {
  const WorkbookWriter = await loadWorkbookWriter();
  return new WorkbookWriter({ filename, useStyles: true, useSharedStrings: false });
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
  checkSheetSize(ws.name, rows.length + 1, headers.length);
  const head = ws.addRow([...headers]);
  head.height = 25;
  head.eachCell((c) => {
    c.font = font(10, { bold: true });
  });
  head.commit();
  // One style object per kind of cell, shared by every cell: exceljs caches a style id per
  // object, so 100k-row sheets do not re-hash a fresh style for each of their cells.
  const text: Partial<ExcelJS.Style> = { font: font(10) };
  const date: Partial<ExcelJS.Style> = { font: font(10), numFmt: DATE_FORMAT };
  if (xmlEncode && writeRowsXml(ws, rows, { row: ROW_STYLE, text, date }, { xmlEncode, cellValue })) return;
  for (const values of rows) {
    const row = ws.addRow(values.map(cellValue));
    // The same goes for the row's own style, a fresh empty object in every new row (a field
    // exceljs's typings leave out).
    (row as unknown as { style: object }).style = ROW_STYLE;
    for (let i = 0; i < values.length; i++) row.getCell(i + 1).style = values[i] instanceof Date ? date : text;
    row.commit();
  }
}

const ROW_STYLE = Object.freeze({});

/** Excel keeps at most this many characters in a cell, and "repairs" a workbook with a longer one. */
export const EXCEL_MAX_CELL_TEXT = 32_767;

/**
 * A text too long for a cell (a Renewal Guidance node's joined identifiers can be) is cut to fit,
 * saying so in the cell: the workbook still opens in Excel. Numbers are never touched.
 */
function cellValue(v: Value): Value {
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
