import { addDays, errorMessage, isoDate, type Logger, silentLogger } from '@tally/core';
import type { Storage } from '@tally/storage';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDuck, queryRows, sqlString } from './duck.js';
import { extractReportMembers } from './tar-fallback.js';

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

/** `data/YYYY/MM/DD` for every UTC day from firstDay to lastDay inclusive. */
export function dayFolders(firstDay: Date, lastDay: Date): string[] {
  const out: string[] = [];
  for (let d = new Date(`${isoDate(firstDay)}T00:00:00Z`); d.getTime() <= lastDay.getTime(); d = addDays(d, 1)) {
    out.push(`data/${isoDate(d).replace(/-/g, '/')}`);
  }
  return out;
}

async function duckReportDb(): Promise<ReportDb> {
  const { conn, close } = await openDuck();
  return {
    all: (sql, params) => queryRows(conn, sql, params as never),
    run: async (sql, params) => {
      await conn.run(sql, params as never);
    },
    close: async () => close(),
  };
}

async function csvColumns(db: ReportDb, path: string): Promise<Set<string> | undefined> {
  try {
    const rows = await db.all(`DESCRIBE SELECT * FROM read_csv(${sqlString(path)}, header=true, all_varchar=true)`);
    return new Set(rows.map((r) => String(r.column_name)));
  } catch {
    return undefined; // an empty (zero-byte) file
  }
}

const TASK_COLUMNS = ['dark', 'failures', 'ok', 'skipped', 'ignored', 'rescued'];

async function addJobHostSummary(db: ReportDb, path: string, installUuid: string | null): Promise<void> {
  const cols = await csvColumns(db, path);
  if (!cols?.has('host_name')) return;
  const c = (name: string) => (cols.has(name) ? `"${name}"` : 'NULL');
  const host = cols.has('ansible_host_variable') ? 'COALESCE(NULLIF("ansible_host_variable", \'\'), "host_name")' : '"host_name"';
  const tasks = TASK_COLUMNS.map((t) => `COALESCE(TRY_CAST(${c(t)} AS BIGINT), 0)`).join(' + ');
  await db.run(
    `INSERT INTO raw_jhs SELECT COALESCE(${c('organization_name')}, 'No organization name'), ${c('job_template_name')},
       ${host}, "host_name", $1::VARCHAR, TRY_CAST(${c('job_remote_id')} AS BIGINT), ${tasks},
       TRY_CAST(${c('created')} AS TIMESTAMPTZ)::TIMESTAMP, TRY_CAST(${c('job_created')} AS TIMESTAMPTZ)::TIMESTAMP
     FROM read_csv(${sqlString(path)}, header=true, all_varchar=true)`,
    [installUuid],
  );
}

async function addJobevents(db: ReportDb, path: string, installUuid: string | null): Promise<boolean> {
  const cols = await csvColumns(db, path);
  if (!cols?.has('host_name') || !cols.has('task_action')) return false;
  const c = (name: string) => (cols.has(name) ? `"${name}"` : 'NULL');
  await db.run(
    `INSERT INTO raw_events SELECT "host_name", COALESCE(NULLIF(${c('resolved_action')}, ''), "task_action"),
       COALESCE(NULLIF(${c('resolved_role')}, ''), ${c('role')}), $1::VARCHAR, TRY_CAST(${c('job_remote_id')} AS BIGINT),
       TRY_CAST(${c('duration')} AS DOUBLE)
     FROM read_csv(${sqlString(path)}, header=true, all_varchar=true)
     WHERE "task_action" IS NOT NULL AND "host_name" IS NOT NULL`,
    [installUuid],
  );
  return true;
}

// The reference's regexes: a module of ≥3 dot-separated words names a collection; a role is
// `ns.coll.role` (last repetition of the third group) or a standalone `ns.role`.
const COLLECTION_RE = String.raw`^(\w+)\.(\w+)\.((\w+)(\.|$))+`;
const STANDALONE_ROLE_RE = String.raw`^(\w+)\.(\w+)$`;

/** Group raw rows into the two report tables (the fallback path, same columns as @tally/dataframes). */
async function groupTables(db: ReportDb, haveEvents: boolean): Promise<void> {
  await db.run(`CREATE TABLE jhs AS SELECT organization_name, job_template_name, host_name, original_host_name, install_uuid,
      job_remote_id, count(*)::BIGINT AS host_runs, sum(task_runs)::BIGINT AS task_runs, min(created) AS first_automation,
      max(created) AS last_automation, max(job_created) AS job_created
    FROM raw_jhs GROUP BY ALL`);
  if (!haveEvents) return;
  await db.run(`CREATE TABLE events AS SELECT host_name, module_name,
      CASE WHEN regexp_matches(module_name, '${COLLECTION_RE}')
        THEN regexp_extract(module_name, '${COLLECTION_RE}', 1) || '.' || regexp_extract(module_name, '${COLLECTION_RE}', 2)
        ELSE 'No collection used' END AS collection_name,
      CASE WHEN regexp_matches(role, '${COLLECTION_RE}')
          THEN regexp_extract(role, '${COLLECTION_RE}', 1) || '.' || regexp_extract(role, '${COLLECTION_RE}', 2) || '.' || regexp_extract(role, '${COLLECTION_RE}', 3)
        WHEN regexp_matches(role, '${STANDALONE_ROLE_RE}') THEN role
        ELSE 'No role used' END AS role_name,
      install_uuid, job_remote_id, count(*)::BIGINT AS task_runs, COALESCE(sum(duration), 0)::DOUBLE AS duration
    FROM raw_events GROUP BY ALL`);
}

/**
 * Read every tarball of the day folders into the report tables. A tarball that cannot be
 * read is named in `failures` and contributes nothing.
 */
export async function loadReportTables(opts: ReportInputOptions): Promise<ReportTables> {
  const log = opts.logger ?? silentLogger;
  const db = await duckReportDb();
  await db.run(`CREATE TABLE raw_jhs (organization_name VARCHAR, job_template_name VARCHAR, host_name VARCHAR,
    original_host_name VARCHAR, install_uuid VARCHAR, job_remote_id BIGINT, task_runs BIGINT, created TIMESTAMP, job_created TIMESTAMP)`);
  await db.run(`CREATE TABLE raw_events (host_name VARCHAR, module_name VARCHAR, role VARCHAR, install_uuid VARCHAR,
    job_remote_id BIGINT, duration DOUBLE)`);
  const tarballs: string[] = [];
  const failures: { file: string; error: string }[] = [];
  let haveEvents = false;
  for (const folder of dayFolders(opts.firstDay, opts.lastDay)) {
    for (const name of await opts.storage.glob(`${folder}/*`)) {
      const dir = await mkdtemp(join(tmpdir(), 'tally-report-'));
      try {
        await using local = await opts.storage.get(name);
        const files = await extractReportMembers(local.path, dir, name);
        let installUuid: string | null = null;
        const configPath = files.get('config.json');
        if (configPath) {
          try {
            const cfg = JSON.parse(await readFile(configPath, 'utf8')) as { install_uuid?: unknown };
            if (typeof cfg.install_uuid === 'string') installUuid = cfg.install_uuid;
          } catch {
            log.warn('config.json is not valid JSON; install_uuid unknown', { file: name });
          }
        }
        const jhsPath = files.get('job_host_summary.csv');
        if (jhsPath) await addJobHostSummary(db, jhsPath, installUuid);
        const evPath = files.get('main_jobevent.csv');
        if (evPath && (await addJobevents(db, evPath, installUuid))) haveEvents = true;
        tarballs.push(name);
      } catch (err) {
        log.warn('tarball skipped', { file: name, error: errorMessage(err) });
        failures.push({ file: name, error: errorMessage(err) });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  }
  await groupTables(db, haveEvents);
  return { db, jhs: 'jhs', events: haveEvents ? 'events' : undefined, tarballs, failures };
}
