import type { Logger, Window } from '@tally/core';
import type pg from 'pg';

export type CollectorFormat = 'json' | 'csv';

/**
 * How gather cuts a window for a collector: `daily` (UTC midnights), `limit`
 * (a snapshot: one instant, the window's `until − 1 s`, as the newest reference's
 * `until_slicing`), or a custom function.
 */
export type Slicing = 'daily' | 'limit' | ((w: Window) => Window[]);

/** Everything known about a collector without running it. */
export interface CollectorMeta {
  /** Stable key; the tarball member is `{key}.{format}`. */
  readonly key: string;
  /** Version string recorded in manifest.json. */
  readonly version: string;
  readonly format: CollectorFormat;
  readonly description: string;
  /** The `config` collector: required, always gathered first, rides in every tarball. */
  readonly config?: boolean;
  /** Absent: the collector takes no window (a snapshot such as main_host). */
  readonly slicing?: Slicing;
  /** Tarballs never mix shipping groups (default `default`). */
  readonly shippingGroup?: string;
  /**
   * Gathered only when named in `METRICS_UTILITY_OPTIONAL_COLLECTORS` (absent/false: gathered
   * by default, e.g. `config` and `job_host_summary`).
   */
  readonly optional?: boolean;
  /** The column the `[since, until)` window filters on, for documentation and `--help`. */
  readonly windowColumn?: string;
}

/** The parameters gather passes to every collector; each collector validates the ones it needs. */
export interface CollectorParams {
  /** A connected node-postgres client (COPY needs a real client, not a pool). */
  db?: pg.ClientBase;
  since?: Date;
  until?: Date;
  /** Directory CSV files are written into. */
  outputDir?: string;
  /** CSV split threshold in bytes (default 200 MiB). */
  maxFileSize?: number;
  /** Where collectors report warnings (e.g. a skipped collector); silent by default. */
  logger?: Logger;
  /** Extra fields for specific collectors (config: billingProviderParams; total_workers_vcpu: prometheus…). */
  [extra: string]: unknown;
}

export type CollectorResult =
  /** `data` null means "no data": nothing is packaged. */
  | { format: 'json'; data: Record<string, unknown> | null }
  /**
   * CSV files in order (`{key}.csv` or `{key}_split{N}.csv`); at least one (header-only when empty),
   * except when `skipped` says why the collector could not run at all (e.g. its table does not
   * exist on this controller version): then `files` is empty and nothing is packaged.
   */
  | { format: 'csv'; files: string[]; skipped?: string };

/** A configured collector: parameters already checked, nothing run until `gather()`. */
export interface CollectorInstance {
  readonly meta: CollectorMeta;
  readonly params: Readonly<CollectorParams>;
  gather(): Promise<CollectorResult>;
}

/** `jobHostSummary({ db, since, until, outputDir })` builds an instance; `.meta` describes it. */
export type Collector<P extends CollectorParams = CollectorParams> = ((params: P) => CollectorInstance) & {
  readonly meta: CollectorMeta;
};
