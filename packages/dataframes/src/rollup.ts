import type { Logger } from '@tally/core';
import type { ExtractFailure } from '@tally/extractors';
import type { Storage } from '@tally/storage';
import type { DuckDbOptions } from './duckdb.js';
import type { Dataframe } from './dataframe.js';

export type RollupPeriod = 'day' | 'week' | 'month';
/** Dataframes that are rolled up. */
export type RollupKind = 'job_host_summary' | 'main_jobevent' | 'main_host';
export const ROLLUP_KINDS: readonly RollupKind[] = ['job_host_summary', 'main_jobevent', 'main_host'];

export interface RollupOptions {
  storage: Storage;
  since: Date;
  until: Date;
  period: RollupPeriod;
  /** Default: every kind. */
  kinds?: readonly RollupKind[];
  /** Key prefix, default `rollups`. */
  prefix?: string;
  logger?: Logger;
  /** Per-tarball uncompressed cap (default 1 GiB). */
  maxTotalBytes?: number;
  duckdb?: DuckDbOptions;
  /** Passed to JobHostSummary (default true). */
  reachableOnly?: boolean;
}

export interface RollupPart {
  kind: RollupKind;
  period: RollupPeriod;
  /** Period label: `YYYY-MM-DD` (day, week = its Monday) or `YYYY-MM` (month). */
  date: string;
  /** Storage name written. */
  name: string;
  rows: number;
}

export interface RollupResult {
  parts: RollupPart[];
  /** Storage names of tarballs read. */
  tarballs: string[];
  failures: ExtractFailure[];
}

/** A period window: `[since, until)` aligned to UTC day / Monday / first of month. */
export interface PeriodWindow {
  period: RollupPeriod;
  date: string;
  since: Date;
  until: Date;
}

/** Every period that intersects `[since, until)`, each aligned to full periods. */
export function periodWindows(_since: Date, _until: Date, _period: RollupPeriod): PeriodWindow[] {
  throw new Error('not implemented');
}

/** `rollups/{kind}/period={period}/date={date}/part-0.parquet` */
export function rollupName(_kind: RollupKind, _period: RollupPeriod, _date: string, _prefix = 'rollups'): string {
  throw new Error('not implemented');
}

/**
 * Roll the daily tarballs of every period intersecting `[since, until)` up into Parquet,
 * one Hive partition per (kind, period, date). A period's file is replaced atomically.
 */
export async function rollup(_opts: RollupOptions): Promise<RollupResult> {
  throw new Error('not implemented');
}

/**
 * Add the rollup Parquet files of `df.name` for `period` whose date lies in `[since, until)`
 * to `df` (call `df.group()` afterwards). Returns the storage names read.
 */
export async function addRollups(
  _df: Dataframe,
  _opts: { storage: Storage; period: RollupPeriod; since: Date; until: Date; prefix?: string },
): Promise<string[]> {
  throw new Error('not implemented');
}
