import { ExcelDate } from './excel-date.js';
import { PADDED } from './padded-text.js';
import type { Value } from './queries.js';
import type { Style, StyleKind } from './xlsx-styles.js';
import type { CellValue } from './xlsx-writer.js';
import { xmlEncode } from './xml-text.js';

/**
 * A data table's rows written straight as sheet XML, without a Row and its Cells per row (on a
 * 100k-row Managed nodes sheet those objects cost most of the workbook's time): the XML the
 * writer's rows would give for the same cells (test/xlsx-writer.test.ts).
 */

/** Rows per write to the sheet's stream. */
const BATCH = 512;

export interface DataRowStyles {
  text: Style;
  date: Style;
  /** What a cell holds: its text as written (`cellValue` in sheet.ts cuts texts too long for Excel). */
  cellValue(v: Value): Value;
}

const kindOf = (v: Value): StyleKind => (v === null || typeof v === 'number' ? 'number' : typeof v === 'string' ? 'other' : 'date');

/**
 * Write `rows` from row number `first` on, each cell styled `styles.date` (datetimes) or `styles.text`
 * (everything else); return the number of the row after them. A row of nulls is left out, its
 * number still taken.
 */
export function writeDataRows(
  rows: readonly (readonly Value[])[],
  first: number,
  styles: DataRowStyles,
  styleId: (style: Style, kind: StyleKind) => number,
  write: (xml: string) => void,
): number {
  // A style is numbered on its first cell (styleId caches it): asked once, at that cell.
  let textId: number | undefined;
  let dateId: number | undefined;
  const letters: string[] = [];
  let n = first;
  let xml = '';
  let inBatch = 0;
  for (const values of rows) {
    const r = n++;
    if (values.every((v) => v === null)) continue;
    // The rows' own style is none: the default format, which adds nothing to the registry.
    let row = `<row r="${r}" spans="1:${values.length}" x14ac:dyDescent="0.25">`;
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as Value;
      let id: number;
      const date = v instanceof Date || v instanceof ExcelDate;
      if (date) id = dateId ??= styleId(styles.date, 'date');
      else id = textId ??= styleId(styles.text, kindOf(v));
      letters[i] ??= columnLetters(i + 1);
      const open = id ? `<c r="${letters[i]}${r}" s="${id}"` : `<c r="${letters[i]}${r}"`;
      row += valueXml(open, id, date ? v : styles.cellValue(v));
    }
    xml += `${row}</row>`;
    if (++inBatch === BATCH) {
      write(xml);
      xml = '';
      inBatch = 0;
    }
  }
  if (xml) write(xml);
  return n;
}

/** 1 → A, 27 → AA. */
export function columnLetters(col: number): string {
  let s = '';
  for (let c = col; c > 0; c = Math.floor((c - 1) / 26)) s = String.fromCharCode(65 + ((c - 1) % 26)) + s;
  return s;
}

/** A value's cell XML after its `<c r="…" s="…"`. */
export function valueXml(open: string, styleId: number, v: CellValue): string {
  if (v === null) return styleId ? `${open}/>` : '';
  // A number's text never holds a character xmlEncode escapes.
  if (typeof v === 'number') return `${open}><v>${v}</v></c>`;
  if (typeof v === 'string') {
    // Surrounding whitespace kept by every reader (LibreOffice drops it from `<v>` text).
    if (PADDED.test(v)) return `${open} t="inlineStr"><is><t xml:space="preserve">${xmlEncode(v)}</t></is></c>`;
    return `${open} t="str"><v>${xmlEncode(v)}</v></c>`;
  }
  if (typeof v === 'boolean') return `${open} t="b"><v>${v ? 1 : 0}</v></c>`;
  // Excel's serial day number (1900 date system).
  if (v instanceof Date) return `${open}><v>${25569 + v.getTime() / (24 * 3600 * 1000)}</v></c>`;
  if (v instanceof ExcelDate) return `${open}><v>${v.serial}</v></c>`;
  return `${open}><f>${xmlEncode(v.formula)}</f></c>`;
}

