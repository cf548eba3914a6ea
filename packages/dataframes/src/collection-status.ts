/**
 * Data coverage from the tarballs' data_collection_status.csv rows: the gaps no successful
 * collection covers, and the collections with the time since the previous one of their file.
 * One computation for the "Data collection status" sheet, `tally status` and `tally report`'s
 * warnings, so they always agree.
 */
import { ident } from './duckdb.js';
import type { DataCollectionStatus } from './data-collection-status.js';

/** A data_collection_status.csv row; timestamps naive UTC. */
export interface CollectionStatusRow {
  collectionStartTimestamp: Date | null;
  since: Date | null;
  until: Date | null;
  fileName: string | null;
  status: string | null;
  elapsed: number | null;
}

/** A stretch of time no `ok` collection of `fileName` covers. */
export interface CollectionGap {
  fileName: string;
  /** Where the covered time stops (an interval's `until`). */
  from: Date;
  /** Where the next covered interval starts (its `since`). */
  until: Date;
  seconds: number;
}

/** Gaps of at most this many seconds are rounding, not missing data (the reference's threshold). */
export const GAP_THRESHOLD_SECONDS = 2;

/** Every row of `df` (grouped), in load order. */
export async function collectionStatusRows(df: DataCollectionStatus): Promise<CollectionStatusRow[]> {
  await df.group();
  const rows = await df.db.all(
    `SELECT epoch_us(collection_start_timestamp) AS cst, epoch_us(since) AS s, epoch_us("until") AS u, file_name, status, elapsed
     FROM ${ident(df.table)}`,
  );
  const at = (v: unknown) => (v === null || v === undefined ? null : new Date(Math.round(Number(v) / 1000)));
  return rows.map((r) => ({
    collectionStartTimestamp: at(r.cst),
    since: at(r.s),
    until: at(r.u),
    fileName: (r.file_name as string | null) ?? null,
    status: (r.status as string | null) ?? null,
    elapsed: r.elapsed === null || r.elapsed === undefined ? null : Number(r.elapsed),
  }));
}

/** Code-point order of texts (pandas sorts strings so); NULL last. */
function compareText(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}
/** Time order; NULL (NaT) last, as pandas sorts it. */
function compareTime(a: Date | null, b: Date | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  return a.getTime() - b.getTime();
}

/**
 * The reference's gap table: per file, the `ok` intervals plus two empty ones at the period's
 * start and end, sorted by (since, until); a gap is from an interval's `until` to the next
 * one's `since`, kept when over 2 seconds. `periodStart` is `--since` or the month's first day,
 * `periodEnd` the day after `--until` or the next month's first day. Sorted by file, then time.
 */
export function collectionGaps(rows: readonly CollectionStatusRow[], periodStart: Date, periodEnd: Date): CollectionGap[] {
  const files = [...new Set(rows.map((r) => r.fileName).filter((f): f is string => f !== null))];
  const intervals = [
    ...files.flatMap((fileName) => [
      { fileName, since: periodStart, until: periodStart },
      { fileName, since: periodEnd, until: periodEnd },
    ]),
    ...rows.filter((r) => r.status === 'ok' && r.fileName !== null).map((r) => ({ fileName: r.fileName as string, since: r.since, until: r.until })),
  ];
  intervals.sort((a, b) => compareText(a.fileName, b.fileName) || compareTime(a.since, b.since) || compareTime(a.until, b.until));
  const gaps: CollectionGap[] = [];
  for (let i = 0; i + 1 < intervals.length; i++) {
    const cur = intervals[i]!;
    const next = intervals[i + 1]!;
    if (next.fileName !== cur.fileName || next.since === null || cur.until === null) continue;
    const seconds = (next.since.getTime() - cur.until.getTime()) / 1000;
    if (seconds > GAP_THRESHOLD_SECONDS) gaps.push({ fileName: cur.fileName, from: cur.until, until: next.since, seconds });
  }
  return gaps;
}

/** A collection with the time since the previous collection of the same file (ms; null for the first). */
export interface CollectionTiming {
  row: CollectionStatusRow;
  sincePreviousMs: number | null;
}

/**
 * The reference's collections table: time since the previous collection of the same file (by
 * collection start), then every row by collection start (a stable sort; the reference's is not),
 * and the median of those times (null when there is none).
 */
export function collectionTimings(rows: readonly CollectionStatusRow[]): { timings: CollectionTiming[]; medianMs: number | null } {
  const byFile = [...rows].sort((a, b) => compareText(a.fileName, b.fileName) || compareTime(a.collectionStartTimestamp, b.collectionStartTimestamp));
  const timings: CollectionTiming[] = byFile.map((row, i) => {
    const prev = byFile[i - 1];
    const sameFile = prev !== undefined && prev.fileName !== null && prev.fileName === row.fileName;
    const diff =
      sameFile && prev.collectionStartTimestamp && row.collectionStartTimestamp ? row.collectionStartTimestamp.getTime() - prev.collectionStartTimestamp.getTime() : null;
    return { row, sincePreviousMs: diff };
  });
  timings.sort((a, b) => compareTime(a.row.collectionStartTimestamp, b.row.collectionStartTimestamp));
  const diffs = timings.map((t) => t.sincePreviousMs).filter((d): d is number => d !== null).sort((a, b) => a - b);
  const mid = Math.floor(diffs.length / 2);
  const medianMs = diffs.length === 0 ? null : diffs.length % 2 ? diffs[mid]! : (diffs[mid - 1]! + diffs[mid]!) / 2;
  return { timings, medianMs };
}
