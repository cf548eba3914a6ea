import { addDays, isoDate, type Logger, monthWindow, silentLogger, thisDay, withTempdir } from '@tally/core';
import { type CollectionGap, type DuckDbOptions, type JobHostSummary, type MainJobevent, type PeriodUsage, periodUsage, startDuckDb, type ReadProgress, usageTables } from '@tally/dataframes';
import type { ExtractFailure } from '@tally/extractors';
import type { Sink, Store } from '@tally/storage';
import { join } from 'node:path';
import { writeCcsp } from './ccsp.js';
import { writeCcspV2 } from './ccspv2.js';
import { checkPrice, type ReportParams } from './params.js';
import { type ReportTables, servedByReadySheets } from './queries.js';
import { auditName, auditOf } from './audit.js';
import { extraDataframes, hasNoData, loadExtras, longGaps, type ReportExtras } from './report-inputs.js';
import { sheetInputs } from './sheet-selection.js';
import { indirectCollections } from './content-sheets.js';

export type CcspType = 'CCSP' | 'CCSPv2';

/** A calendar month (`YYYY-MM`) or an inclusive day range. */
export type ReportPeriod = { month: string } | { since: Date; until: Date };

export interface ReportTarget {
  /** Storage name of the workbook, e.g. `reports/2024/03/CCSP-2024-03.xlsx`. */
  name: string;
  /** What the sheets show as report period. */
  period: string;
  /** What an empty-period message names, in the reference's words: `month 2024-03` or `input date range 2024-03-01--2024-03-15`. */
  label: string;
  firstDay: Date;
  lastDay: Date;
}

/** Where a report of this type and period goes, and which day folders it reads. */
export function reportTarget(type: string, period: ReportPeriod): ReportTarget {
  if ('month' in period) {
    const w = monthWindow(period.month);
    const [y, m] = period.month.split('-');
    return {
      name: `reports/${y}/${m}/${type}-${period.month}.xlsx`,
      period: period.month,
      label: `month ${period.month}`,
      firstDay: w.since,
      lastDay: new Date(w.until.getTime() - 1),
    };
  }
  const since = isoDate(period.since);
  const until = isoDate(period.until);
  return {
    name: `reports/${until.slice(0, 4)}/${until.slice(5, 7)}/${type}-${since}--${until}.xlsx`,
    period: `${since}, ${until}`,
    label: `input date range ${since}--${until}`,
    firstDay: period.since,
    lastDay: period.until,
  };
}

export interface BuildResult {
  status: 'written' | 'skipped' | 'empty';
  /** Storage name of the workbook. */
  name: string;
  message: string;
  /** Tarballs that could not be read (named, with the CSV member and line when that was why; contributing nothing). */
  failures: ExtractFailure[];
  /** What the workbook was computed from (absent when skipped). */
  read?: Pick<PeriodUsage, 'inputs' | 'skipped' | 'days'>;
  /** Collection gaps longer than an hour in the period (data_collection_status.csv), for warnings (CCSP, CCSPv2). */
  gaps?: CollectionGap[];
}

/** Where a workbook goes: any storage (sink) that can `put` a file. */
export type ReportSink = Pick<Sink, 'put'>;

/**
 * The dataframes a CCSP/CCSPv2 workbook is computed from, in one DuckDB database: job host
 * summaries (required) and job events (the content-usage sheets). They may hold raw rows, grouped
 * rows, rollups, or any mix: the workbook is the same.
 */
export interface ReportDataframes {
  jobHostSummary: JobHostSummary;
  mainJobevent?: MainJobevent | undefined;
}

/** Write a CCSP or CCSPv2 workbook from usage tables to `sink` as `name` (a temp file first; directory sinks rename it into place). */
export async function writeCcspWorkbook(type: CcspType, tables: ReportTables, params: ReportParams, out: { sink: ReportSink; name: string }): Promise<void> {
  checkPrice(params);
  await withTempdir('tally-report', async (dir) => {
    const file = join(dir, 'report.xlsx');
    if (type === 'CCSP') await writeCcsp(file, tables, params);
    else await writeCcspV2(file, tables, params);
    await out.sink.put(out.name, { filename: file });
  });
}

export interface CcspFromDataframesOptions {
  type: CcspType;
  dataframes: ReportDataframes;
  /** `reportPeriod` is what the sheets show. */
  params: ReportParams;
  sink: ReportSink;
  /** Storage name of the workbook, e.g. `reportTarget(type, period).name`. */
  name: string;
}

/**
 * A CCSP or CCSPv2 workbook from dataframes a script built itself (`loadTarballs`, `addParquet` +
 * `regroup`, `addCsv`, …). Rows not grouped yet are grouped (into the dataframe's table). Nothing is
 * written when the dataframes hold no DIRECT job host summary (`empty`).
 */
export async function writeCcspFromDataframes(opts: CcspFromDataframesOptions): Promise<{ status: 'written' | 'empty'; name: string }> {
  const tables = await usageTables(opts.dataframes.jobHostSummary, {
    events: opts.dataframes.mainJobevent,
    // CCSP (v1) has no organization filter, as in the reference.
    organizationFilter: opts.type === 'CCSPv2' ? opts.params.organizationFilter : undefined,
    keepEvents: () => true,
  });
  if (tables.empty) return { status: 'empty', name: opts.name };
  await writeCcspWorkbook(opts.type, tables, opts.params, opts);
  return { status: 'written', name: opts.name };
}

/** The ccsp-experimental dedup renames hosts as the job host summaries are read, which a rollup's grouped rows have passed. */
const readsTarballsOnly = (p: Pick<ReportParams, 'deduplicator'>) => p.deduplicator === 'ccsp-experimental';

export interface BuildCcspOptions {
  type: CcspType;
  storage: Store;
  period: ReportPeriod;
  params: Omit<ReportParams, 'reportPeriod'>;
  /**
   * TALLY_COUNT_UNREACHABLE_HOSTS: count every job-host row (metrics-utility 0.4). Default false:
   * rows whose counters other than `dark` do not sum to more than 0 are dropped before grouping (0.5 and later).
   */
  countUnreachableHosts?: boolean;
  /** `raw` reads every tarball; `auto` (default) each day's current rollup and the other days' tarballs. */
  from?: 'auto' | 'raw';
  /** Store rollups of the days that had none current (then read them). */
  writeRollups?: boolean;
  force?: boolean;
  logger?: Logger;
  /** DuckDB settings (the CLI passes TALLY_DUCKDB_MEMORY_LIMIT / _THREADS); `memoryLimit` defaults to REPORT_MEMORY_LIMIT. */
  duckdb?: DuckDbOptions;
  /** Told as the period is read (see `periodUsage`) and as the workbook is written. */
  onProgress?: ((p: ReadProgress) => void) | undefined;
}

/**
 * The scan aggregation keeps every row's job id in lists. On a 6M-row month it needs a little
 * over 512MB at its peak (two threads' partial lists being merged): with 512MB it sometimes
 * spilled ~0.8 GB and took twice as long; with 768MB it never did, and the whole process peaked
 * at ~0.7 GiB. A month beyond the limit spills, or falls back to grouping when the lists cannot.
 */
export const REPORT_MEMORY_LIMIT = '768MB';

/**
 * Build a CCSP or CCSPv2 workbook for the period from its current daily rollups and the other
 * days' tarballs (through @tally/dataframes' `periodUsage`) and put it into storage.
 */
export async function buildCcspReport(opts: BuildCcspOptions): Promise<BuildResult> {
  checkPrice(opts.params); // before anything is read
  const log = opts.logger ?? silentLogger;
  const target = reportTarget(opts.type, opts.period);
  if (!opts.force && (await opts.storage.exists(target.name))) {
    const message = `Skipping report generation, report: ${target.name} already exists`;
    log.debug(message); // the caller prints `message` (the CLI on stdout): shown once
    return { status: 'skipped', name: target.name, message, failures: [], gaps: [] };
  }
  if (opts.type === 'CCSP' && opts.params.sheets.includes('infrastructure_summary')) {
    log.warn('infrastructure_summary is a CCSPv2 sheet: the CCSP report skips it');
  }
  // Opens while the period's tarballs, manifests and rollup parts are listed and fetched (periodUsage).
  await using db = startDuckDb({ ...opts.duckdb, memoryLimit: opts.duckdb?.memoryLimit ?? REPORT_MEMORY_LIMIT });
  const since = thisDay(target.firstDay);
  const until = addDays(thisDay(target.lastDay), 1);
  // CCSP (v1) has no organization filter, as in the reference.
  const organizationFilter = opts.type === 'CCSPv2' ? opts.params.organizationFilter : undefined;
  const inputs = sheetInputs(opts.params.sheets, opts.params.deduplicator);
  const frames = extraDataframes(db, inputs);
  let extras: ReportExtras = { collectionStatus: [] };
  const loaded = await periodUsage({
    storage: opts.storage,
    db,
    since,
    until,
    countUnreachableHosts: opts.countUnreachableHosts ?? false,
    // Daily rollups hold main_host and data_collection_status rows too (a day whose rollup lacks one is read raw).
    from: readsTarballsOnly(opts.params) ? 'raw' : (opts.from ?? 'auto'),
    writeRollups: opts.writeRollups ?? false,
    organizationFilter,
    logger: log,
    read: { jobHostSummary: inputs.jobHostSummary, events: inputs.mainJobevent },
    extraDataframes: frames.all,
    // Before the usage tables consume the prepared job host summaries.
    onLoaded: async (jhs, events) => {
      const experimental = opts.params.deduplicator === 'ccsp-experimental' ? { events: inputs.mainJobevent ? events : undefined } : undefined;
      extras = await loadExtras(jhs, frames, organizationFilter, experimental);
      return { hostNameMapping: extras.hostNameMapping };
    },
    // Counting INDIRECT collections beside the events' needs the events' rows.
    keepEvents: () => indirectCollections({ indirect: extras.indirect }, opts.params.sheets),
    // The content sheets' counting runs while the workbook's first sheets are written (ReportQueries).
    deferContent: true,
    onProgress: opts.onProgress,
    readySheets: opts.type === 'CCSPv2' && servedByReadySheets(opts.params.sheets, opts.params.deduplicator),
  });
  const failures: ExtractFailure[] = loaded.skipped.map(({ name, reason, ...where }) => ({ file: name, error: reason, ...where }));
  const read = { inputs: loaded.inputs, skipped: loaded.skipped, days: loaded.days };
  try {
    const tables: ReportTables = { ...loaded.usage, indirect: extras.indirect, extras, release: () => db.close() };
    const gaps = longGaps(extras.collectionStatus, opts.period);
    if (hasNoData(tables, opts.params.sheets)) {
      const message = `No billing data for ${target.label}`;
      log.debug(message); // the caller prints `message` (the CLI on stdout): shown once
      return { status: 'empty', name: target.name, message, failures, read, gaps };
    }
    const started = performance.now();
    opts.onProgress?.({ phase: 'write', days: { done: loaded.days.rollup.length + loaded.days.raw.length, total: loaded.days.rollup.length + loaded.days.raw.length } });
    const params: ReportParams = { ...opts.params, reportPeriod: target.period, period: opts.period };
    await writeCcspWorkbook(opts.type, tables, params, { sink: opts.storage, name: target.name });
    log.debug('report: workbook written', { ms: Math.round(performance.now() - started) });
    const countUnreachableHosts = opts.countUnreachableHosts ?? false;
    const audit = await auditOf(opts.storage, { type: opts.type, target, since, until, params, countUnreachableHosts, read });
    await opts.storage.put(auditName(target.name), { dict: audit });
    const message = `Report generated into: ${target.name}`;
    log.debug(message); // the caller prints `message` (the CLI on stdout): shown once
    return { status: 'written', name: target.name, message, failures, read, gaps };
  } finally {
    await loaded.removed;
  }
}
