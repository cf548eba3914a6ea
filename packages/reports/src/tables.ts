import { addDays, type Logger, thisDay } from '@tally/core';
import { DIRECT, JobHostSummary, loadTarballs, MainJobevent, openDuckDb } from '@tally/dataframes';
import type { Storage } from '@tally/storage';

/** The little of a DuckDB handle the report queries need (satisfied by @tally/dataframes' TallyDuckDb). */
export interface ReportDb {
  all(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  run(sql: string, params?: unknown[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * The two grouped tables every CCSP/CCSPv2 number is computed from:
 * `jhs` — organization_name, job_template_name, host_name, original_host_name, install_uuid,
 * job_remote_id, host_runs, task_runs, first_automation, last_automation, job_created;
 * `events` — host_name, module_name, collection_name, role_name, install_uuid, job_remote_id,
 * task_runs, duration (absent when no tarball had main_jobevent.csv).
 */
export interface ReportTables {
  db: ReportDb;
  jhs: string;
  events?: string | undefined;
  /** Storage names of tarballs that were read, and those that were skipped with the reason. */
  tarballs: string[];
  failures: { file: string; error: string }[];
}

export interface ReportInputOptions {
  storage: Storage;
  /** First and last day folder read, inclusive (`data/YYYY/MM/DD`). */
  firstDay: Date;
  lastDay: Date;
  logger?: Logger;
}

/**
 * Read every tarball of the day folders into the report tables through @tally/dataframes
 * (JobHostSummary counting unreachable hosts as the 0.4.0 reports did, MainJobevent). A tarball
 * that cannot be read is named in `failures` and contributes nothing.
 */
export async function loadReportTables(opts: ReportInputOptions): Promise<ReportTables> {
  const db = await openDuckDb();
  try {
    const jhs = new JobHostSummary(db, { reachableOnly: false });
    const events = new MainJobevent(db);
    const res = await loadTarballs([jhs, events], {
      storage: opts.storage,
      since: thisDay(opts.firstDay),
      until: addDays(thisDay(opts.lastDay), 1),
      ...(opts.logger ? { logger: opts.logger } : {}),
    });
    // The reports count directly managed nodes (job host summaries), as the reference does.
    await db.run(`CREATE VIEW report_jhs AS SELECT * FROM ${jhs.table} WHERE managed_node_type = ${DIRECT}`);
    const [ev] = await db.all<{ n: unknown }>(`SELECT count(*) AS n FROM ${events.table}`);
    return {
      db: {
        all: (sql, params) => db.all(sql, params),
        run: async (sql, params) => {
          await db.run(sql, params);
        },
        close: () => db.close(),
      },
      jhs: 'report_jhs',
      events: Number(ev?.n ?? 0) > 0 ? events.table : undefined,
      tarballs: res.tarballs,
      failures: res.failures.map((f) => ({ file: f.file, error: f.error })),
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}
