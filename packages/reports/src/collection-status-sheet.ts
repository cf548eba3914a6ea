/** "Data collection status" (CCSPv2): the gaps no collection covers, then every collection. */
import { addDays, monthWindow } from '@tally/core';
import { type CollectionGap, collectionGaps, type CollectionStatusRow, collectionTimings } from '@tally/dataframes';
import type { Row, Worksheet } from './xlsx-writer.js';
import type { ReportPeriod } from './build.js';
import { ExcelDate, excelDate, excelDateOrNull as at } from './excel-date.js';
import { setWidths } from './sheet.js';
import { COLOR, DATE_FORMAT, fill } from './styles.js';

export const COLLECTION_STATUS_TITLE = 'Data collection status';
export const GAP_HEADERS = ['CSV filename', 'Missing from', 'Missing until', 'Gap in seconds'];
export const COLLECTION_HEADERS = ['Collection timestamp', 'Filter since', 'Filter until', 'CSV filename', 'Status', 'Elapsed', 'Time since\nprevious collection'];
/** openpyxl's format for a timedelta cell (a number of days). */
export const TIMEDELTA_FORMAT = '[hh]:mm:ss';
export const YELLOW = '00FFCC17';

/**
 * The time a period's collections should cover: `--since` to the day after `--until`, or the
 * month (the reference's `_since_until`).
 */
export function collectionPeriod(period: ReportPeriod): { start: Date; end: Date } {
  if ('month' in period) {
    const w = monthWindow(period.month);
    return { start: w.since, end: w.until };
  }
  return { start: period.since, end: addDays(period.until, 1) };
}

/** The gaps of the period, as the sheet shows them. */
export function periodGaps(rows: readonly CollectionStatusRow[], period: ReportPeriod): CollectionGap[] {
  const { start, end } = collectionPeriod(period);
  return collectionGaps(rows, start, end);
}

type Cell = string | number | ExcelDate | null;

/** Plain cells, as the reference writes these tables (no fonts); dates in openpyxl's datetime format. */
function plainRow(ws: Worksheet, r: number, values: readonly Cell[]): Row {
  const row = ws.getRow(r);
  values.forEach((v, i) => {
    if (v === null) return;
    const c = row.getCell(i + 1);
    c.value = v;
    if (v instanceof ExcelDate) c.numFmt = DATE_FORMAT;
  });
  return row;
}

const DAY_US = 86_400_000_000;

export function writeCollectionStatusSheet(add: (title: string) => Worksheet, rows: readonly CollectionStatusRow[], period: ReportPeriod): void {
  const ws = add(COLLECTION_STATUS_TITLE);
  setWidths(ws, { 1: 36, 2: 20, 3: 20, 4: 36, 5: 15, 6: 15, 7: 20 });
  let r = 1;
  plainRow(ws, r++, GAP_HEADERS);
  for (const g of periodGaps(rows, period)) plainRow(ws, r++, [g.fileName, excelDate(g.fromUs), excelDate(g.untilUs), g.seconds]);
  r++; // one blank row between the tables
  plainRow(ws, r++, COLLECTION_HEADERS);
  const { timings, medianUs } = collectionTimings(rows);
  const fills = { red: fill(COLOR.red), yellow: fill(YELLOW), green: fill(COLOR.green) };
  for (const { row: s, sincePreviousUs: diff } of timings) {
    const row = plainRow(ws, r++, [at(s.collectionStartUs), at(s.sinceUs), at(s.untilUs), s.fileName, s.status, s.elapsed, null]);
    if (diff === null) continue;
    const c = row.getCell(7);
    c.value = diff / DAY_US;
    c.numFmt = TIMEDELTA_FORMAT;
    const m = medianUs ?? 0;
    c.fill = diff >= 3 * m ? fills.red : diff >= 2 * m ? fills.yellow : fills.green;
  }
  ws.commit();
}
