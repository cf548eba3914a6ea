/**
 * A period's data coverage read straight from the stored tarballs (data_collection_status.csv
 * alone): what `tally status --month` shows. The same days and the same gap rule as the
 * report's Data collection status sheet, so the two always agree.
 */
import { addDays, type Logger, silentLogger, thisDay } from '@tally/core';
import { type CollectionGap, collectionStatusRows, type CollectionStatusRow, DataCollectionStatus, loadTarballs, openDuckDb } from '@tally/dataframes';
import type { ExtractFailure } from '@tally/extractors';
import type { Store } from '@tally/storage';
import { type ReportPeriod, reportTarget } from './build.js';
import { collectionPeriod, periodGaps } from './collection-status-sheet.js';

export interface PeriodCoverage {
  /** What the collections should cover: `[start, end)`. */
  start: Date;
  end: Date;
  rows: CollectionStatusRow[];
  /** Every gap over 2 seconds, as the sheet lists them. */
  gaps: CollectionGap[];
  /** Tarballs that could not be read (with the CSV member and line when that was why). */
  failures: ExtractFailure[];
}

export async function periodCoverage(storage: Store, period: ReportPeriod, logger: Logger = silentLogger): Promise<PeriodCoverage> {
  const target = reportTarget('coverage', period);
  const db = await openDuckDb();
  try {
    const status = new DataCollectionStatus(db);
    const res = await loadTarballs([status], { storage, since: thisDay(target.firstDay), until: addDays(thisDay(target.lastDay), 1), logger });
    const rows = await collectionStatusRows(status);
    const { start, end } = collectionPeriod(period);
    return { start, end, rows, gaps: periodGaps(rows, period), failures: res.failures.map((f) => ({ ...f })) };
  } finally {
    await db.close();
  }
}
