import { addDays, type Logger, silentLogger, thisDay } from '@tally/core';
import { installUuidOf, isOutOfMemory, JobHostSummary, loadExtracted, MainJobevent, openDuckDb, type TallyDuckDb, withExtracted } from '@tally/dataframes';
import type { ExtractFailure } from '@tally/extractors';
import type { Store } from '@tally/storage';
import { extraDataframes, loadExtras, type ReportExtras } from './report-inputs.js';
import { sheetInputs } from './sheet-selection.js';
import { USAGE_TABLES, usageFromGrouped, usageFromPrepared } from './usage-tables.js';

/** The little of a DuckDB handle the report queries need (satisfied by @tally/dataframes' TallyDuckDb). */
export interface ReportDb {
  all(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  run(sql: string, params?: unknown[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * The usage tables every CCSP/CCSPv2 number is computed from (see usage-tables.ts):
 * `hosts` per (organization, template, host), `jobs` per distinct job, `hostMap` for the
 * content-usage sheets, and `events` — host_name, module_name, collection_name, role_name,
 * install_uuid, job_remote_id, task_runs, duration (absent when no tarball had main_jobevent.csv).
 */
export interface ReportTables {
  db: ReportDb;
  hosts: string;
  jobs: string;
  hostMap?: string | undefined;
  events?: string | undefined;
  /** No job host summary in the period (an organization filter may still leave the tables empty otherwise). */
  empty: boolean;
  /** Grouped INDIRECT-only rows (a table), when there are any. */
  indirect?: string | undefined;
  /** Inputs of the newest reference's sheets (report-inputs.ts). */
  extras?: ReportExtras;
  /** How the usage tables were built: from the CSV `scan`s (fast), or from `grouped` rows (out of memory). */
  method: 'scan' | 'grouped';
  /** Storage names of tarballs that were read, and those that were skipped with the reason. */
  tarballs: string[];
  /**
   * The extracted files are being removed in the background (the tables no longer need them),
   * overlapping the workbook; await before exiting. Never rejects.
   */
  removed: Promise<void>;
  /** Skipped inputs: the tarball, and for a CSV that did not read as its schema the member and line. */
  failures: ExtractFailure[];
}

export interface ReportInputOptions {
  storage: Store;
  /** First and last day folder read, inclusive (`data/YYYY/MM/DD`). */
  firstDay: Date;
  lastDay: Date;
  logger?: Logger;
  /** Only these organizations (CCSPv2's METRICS_UTILITY_ORGANIZATION_FILTER). */
  organizationFilter?: readonly string[] | undefined;
  /** Testing: build the usage tables from grouped rows (the out-of-memory fallback). */
  method?: 'grouped';
  /**
   * Called once the tarballs are extracted, as DuckDB starts aggregating on its own threads: the
   * main thread is free then (a report loads exceljs there).
   */
  onExtracted?: () => void;
  /** The selected sheets: CSVs no selected sheet needs are not read (default: every sheet's). */
  sheets?: readonly string[];
}

/**
 * The scan aggregation keeps every row's job id in lists. On a 6M-row month it needs a little
 * over 512MB at its peak (two threads' partial lists being merged): with 512MB it sometimes
 * spilled ~0.8 GB and took twice as long; with 768MB it never did, and the whole process peaked
 * at ~0.7 GiB. A month beyond the limit spills, or falls back to grouping when the lists cannot.
 */
export const REPORT_MEMORY_LIMIT = '768MB';

/** What `usageFromGrouped` reads of the grouped rows, besides their index columns. */
const GROUPED_DATA_COLUMNS = ['task_runs', 'first_automation', 'last_automation', 'job_created', 'managed_node_type'] as const;

/**
 * Read every tarball of the day folders into the report tables through @tally/dataframes
 * (JobHostSummary counting unreachable hosts as the 0.4.0 reports did, MainJobevent). A tarball
 * that cannot be read is named in `failures` and contributes nothing.
 */
export async function loadReportTables(opts: ReportInputOptions): Promise<ReportTables> {
  const db = await openDuckDb({ memoryLimit: process.env.TALLY_DUCKDB_MEMORY_LIMIT ?? REPORT_MEMORY_LIMIT });
  try {
    const jhs = new JobHostSummary(db, { reachableOnly: false });
    const events = new MainJobevent(db);
    const inputs = sheetInputs(opts.sheets ?? ['managed_nodes', 'usage_by_collections', 'inventory_scope']);
    const frames = extraDataframes(db, inputs);
    const dfs = [...(inputs.jobHostSummary ? [jhs] : []), ...(inputs.mainJobevent ? [events] : []), ...frames.all];
    let extras: ReportExtras = { collectionStatus: [] };
    const log = opts.logger ?? silentLogger;
    const loadOpts = { storage: opts.storage, since: thisDay(opts.firstDay), until: addDays(thisDay(opts.lastDay), 1), logger: log };
    let hasEvents = false;
    let method: ReportTables['method'] = 'scan';
    let empty = true;
    let installs: (string | null)[] = [];
    const rdb = reportDb(db);
    const finish = async (grouped: boolean) => {
      extras = await loadExtras(jhs, frames, opts.organizationFilter);
      await events.group();
      const [ev] = await db.all<{ n: unknown }>(`SELECT count(*) AS n FROM ${events.table}`);
      hasEvents = Number(ev?.n ?? 0) > 0;
      const usage = { organizationFilter: opts.organizationFilter, hostMap: hasEvents, installs };
      // The job host summaries are aggregated straight from the CSV scans, never grouped into
      // millions of rows, unless that ran out of memory (grouping spills more freely).
      const prepared = grouped ? undefined : await jhs.preparedRelation();
      if (prepared) {
        method = 'scan';
        empty = (await usageFromPrepared(rdb, prepared, usage)).empty;
        return;
      }
      method = 'grouped';
      await jhs.groupInto('report_jhs', { columns: [...jhs.indexColumns, ...GROUPED_DATA_COLUMNS] });
      empty = (await usageFromGrouped(rdb, 'report_jhs', usage)).empty;
      await db.run('DROP TABLE report_jhs');
    };
    const started = performance.now();
    const res = await withExtracted(dfs, loadOpts, async (extracted, result) => {
      const extractedAt = performance.now();
      log.debug('report: tarballs extracted', { tarballs: extracted.length, ms: Math.round(extractedAt - started) });
      opts.onExtracted?.();
      installs = await Promise.all(extracted.map(installUuidOf));
      const kept = { tarballs: result.tarballs.length, failures: result.failures.length };
      try {
        await loadExtracted(dfs, extracted, result, log, { stage: true, finish: () => finish(opts.method === 'grouped'), outOfMemory: 'throw' });
      } catch (err) {
        if (!isOutOfMemory(err) || opts.method === 'grouped') throw err;
        log.info('report: out of memory aggregating the CSV scans; grouping the job host summaries instead');
        result.tarballs.length = kept.tarballs;
        result.failures.length = kept.failures;
        // Tarball-by-tarball reading may have committed rows before the failure.
        for (const df of dfs) await df.clear();
        await loadExtracted(dfs, extracted, result, log, { stage: true, finish: () => finish(true) });
      }
      log.debug('report: usage tables built', { method, ms: Math.round(performance.now() - extractedAt) });
    }, { removeInBackground: true });
    return {
      db: rdb,
      hosts: USAGE_TABLES.hosts,
      jobs: USAGE_TABLES.jobs,
      hostMap: hasEvents ? USAGE_TABLES.hostMap : undefined,
      events: hasEvents ? events.table : undefined,
      method,
      empty,
      indirect: extras.indirect,
      extras,
      tarballs: res.tarballs,
      removed: res.removed,
      failures: res.failures.map((f) => ({ ...f })),
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}

function reportDb(db: TallyDuckDb): ReportDb {
  return {
    all: (sql, params) => db.all(sql, params),
    run: async (sql, params) => {
      await db.run(sql, params);
    },
    close: () => db.close(),
  };
}
