/**
 * Data coverage from the tarballs' data_collection_status.csv rows: the gaps no successful
 * collection covers, and the collections with the time since the previous one of their file.
 * One computation for the "Data collection status" sheet, `tally status` and `tally report`'s
 * warnings, so they always agree.
 */
import { ident } from './duckdb.js';
import type { DataCollectionStatus } from './data-collection-status.js';

/**
 * A data_collection_status.csv row; timestamps naive UTC, as Dates (milliseconds) and as epoch
 * microseconds (`…Us`), which the gaps and times are computed from (as pandas computes them).
 */
export interface CollectionStatusRow {
  collectionStartTimestamp: Date | null;
  since: Date | null;
  until: Date | null;
  fileName: string | null;
  status: string | null;
  elapsed: number | null;
  collectionStartUs: number | null;
  sinceUs: number | null;
  untilUs: number | null;
}

/** A stretch of time no `ok` collection of `fileName` covers. */
export interface CollectionGap {
  fileName: string;
  /** Where the covered time stops (an interval's `until`). */
  from: Date;
  /** Where the next covered interval starts (its `since`). */
  until: Date;
  /** `from` and `until` as epoch microseconds (the Dates are rounded to milliseconds). */
  fromUs: number;
  untilUs: number;
  seconds: number;
}

/** Gaps of at most this many seconds are rounding, not missing data (the reference's threshold). */
export const GAP_THRESHOLD_SECONDS = 2;

/**
 * Every row of `df` (grouped), ordered by all its columns: rows that tie on collection start and
 * file (which the sheet's sorts leave in input order) come out the same whether a day was read
 * from its tarballs or its rollup.
 */
export async function collectionStatusRows(df: DataCollectionStatus): Promise<CollectionStatusRow[]> {
  await df.group();
  const rows = await df.db.all(
    `SELECT epoch_us(collection_start_timestamp) AS cst, epoch_us(since) AS s, epoch_us("until") AS u, file_name, status, elapsed
     FROM ${ident(df.table)} ORDER BY ALL NULLS LAST`,
  );
  const us = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return rows.map((r) => statusRow({
    collectionStartUs: us(r.cst),
    sinceUs: us(r.s),
    untilUs: us(r.u),
    fileName: (r.file_name as string | null) ?? null,
    status: (r.status as string | null) ?? null,
    elapsed: r.elapsed === null || r.elapsed === undefined ? null : Number(r.elapsed),
  }));
}

/** A row from its microsecond timestamps (the Dates are derived, rounded to milliseconds). */
export function statusRow(r: Omit<CollectionStatusRow, 'collectionStartTimestamp' | 'since' | 'until'>): CollectionStatusRow {
  const at = (v: number | null) => (v === null ? null : new Date(Math.round(v / 1000)));
  return { ...r, collectionStartTimestamp: at(r.collectionStartUs), since: at(r.sinceUs), until: at(r.untilUs) };
}

/** Code-point order of texts (pandas sorts strings so); NULL last. */
function compareText(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}
/** Time order; NULL (NaT) last, as pandas sorts it. */
function compareTime(a: number | null, b: number | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  return a - b;
}

/**
 * The reference's gap table: per file, the `ok` intervals plus two empty ones at the period's
 * start and end, sorted by (since, until); a gap is from an interval's `until` to the next
 * one's `since`, kept when over 2 seconds. `periodStart` is `--since` or the month's first day,
 * `periodEnd` the day after `--until` or the next month's first day. Sorted by file, then time.
 */
export function collectionGaps(rows: readonly CollectionStatusRow[], periodStart: Date, periodEnd: Date): CollectionGap[] {
  const files = [...new Set(rows.map((r) => r.fileName).filter((f): f is string => f !== null))];
  const start = periodStart.getTime() * 1000;
  const end = periodEnd.getTime() * 1000;
  const intervals = [
    ...files.flatMap((fileName) => [
      { fileName, since: start, until: start },
      { fileName, since: end, until: end },
    ]),
    ...rows.filter((r) => r.status === 'ok' && r.fileName !== null).map((r) => ({ fileName: r.fileName as string, since: r.sinceUs, until: r.untilUs })),
  ];
  intervals.sort((a, b) => compareText(a.fileName, b.fileName) || compareTime(a.since, b.since) || compareTime(a.until, b.until));
  const gaps: CollectionGap[] = [];
  for (let i = 0; i + 1 < intervals.length; i++) {
    const cur = intervals[i]!;
    const next = intervals[i + 1]!;
    if (next.fileName !== cur.fileName || next.since === null || cur.until === null) continue;
    const seconds = (next.since - cur.until) / 1e6;
    if (seconds > GAP_THRESHOLD_SECONDS) gaps.push({
        fileName: cur.fileName,
        from: new Date(Math.round(cur.until / 1000)),
        until: new Date(Math.round(next.since / 1000)),
        fromUs: cur.until,
        untilUs: next.since,
        seconds,
      });
  }
  return gaps;
}

/** A collection with the time since the previous collection of the same file (µs; null for the first). */
export interface CollectionTiming {
  row: CollectionStatusRow;
  sincePreviousUs: number | null;
}

/**
 * The reference's collections table: time since the previous collection of the same file (by
 * collection start), then every row by collection start (a stable sort; the reference's is not),
 * and the median of those times in whole µs, as pandas gives it (null when there is none).
 */
export function collectionTimings(rows: readonly CollectionStatusRow[]): { timings: CollectionTiming[]; medianUs: number | null } {
  const byFile = [...rows].sort((a, b) => compareText(a.fileName, b.fileName) || compareTime(a.collectionStartUs, b.collectionStartUs));
  const timings: CollectionTiming[] = byFile.map((row, i) => {
    const prev = byFile[i - 1];
    const sameFile = prev !== undefined && prev.fileName !== null && prev.fileName === row.fileName;
    const diff = sameFile && prev.collectionStartUs !== null && row.collectionStartUs !== null ? row.collectionStartUs - prev.collectionStartUs : null;
    return { row, sincePreviousUs: diff };
  });
  timings.sort((a, b) => compareTime(a.row.collectionStartUs, b.row.collectionStartUs));
  const diffs = timings.map((t) => t.sincePreviousUs).filter((d): d is number => d !== null).sort((a, b) => a - b);
  const mid = Math.floor(diffs.length / 2);
  // pandas (3.x parses these timestamps at µs) averages the middle two and truncates to whole µs:
  // the median of 1 µs and 2 µs is 1 µs, so a diff of exactly twice that is already yellow.
  const medianUs = diffs.length === 0 ? null : diffs.length % 2 ? diffs[mid]! : Math.trunc((diffs[mid - 1]! + diffs[mid]!) / 2);
  return { timings, medianUs };
}
