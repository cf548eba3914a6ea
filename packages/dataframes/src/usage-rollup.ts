/**
 * Usage rollups: a period's usage tables (`report_hosts` per organization, template and host;
 * `report_jobs` per organization, template, install and job) stored beside its job host
 * summary rollup, so that a month's report reads a few thousand rows per day instead of the
 * job-grain rows.
 *
 * They are the very tables `usageTables` builds for that period alone. Periods merge exactly
 * when no job (install_uuid, job id) appears in two of them: every grouped job-host row then
 * lies in one period, so its host's count of grouped rows, task runs, first and last times and
 * job creation times add up (sums, minima, maxima) across periods. A report checks that on the
 * jobs files and otherwise reads the job-grain rollups. Periods with INDIRECT rows are not
 * merged this way (their sheets need the job-grain rows), nor periods with job events unless
 * they have content rollups too (see content-rollup.ts).
 */
import { literal, type TallyDuckDb } from './duckdb.js';
import { DIRECT } from './job-host-summary.js';
import { PARQUET_V2 } from './sql.js';
import type { RollupManifest } from './rollup.js';
import { USAGE_TABLES, usageSelects } from './usage.js';

/** `rollups/usage_{hosts|jobs}/period={period}/date={date}/part-0.parquet` (beside the kinds' Hive trees). */
export function usageRollupName(which: 'hosts' | 'jobs', period: string, date: string, prefix = 'rollups'): string {
  return `${prefix}/usage_${which}/period=${period}/date=${date}/part-0.parquet`;
}

/**
 * Write the usage tables of one period's job host summary rollup (`jhsParquet`: its grouped rows,
 * one per index, so the tables come from one plain aggregation of them) to `out.hosts` and
 * `out.jobs`. The jobs file lists every job of the period, those of its job events
 * (`eventsParquet`, its main_jobevent rollup) too: `direct` marks those with a DIRECT row (the
 * report's jobs), the others are there for the overlap check. Returns the rows written and the
 * period's INDIRECT rows.
 */
export async function writeUsageRollup(
  db: TallyDuckDb,
  jhsParquet: string,
  out: { hosts: string; jobs: string },
  eventsParquet?: string,
): Promise<{ hosts: number; jobs: number; indirectRows: number }> {
  // Read as it is, not through `parquetRelation` (a statement more a day): the usage tables read
  // only the index columns, counts, times and managed_node_type, which every part holds.
  const src = `read_parquet(${literal(jhsParquet)})`;
  const eventJobs = eventsParquet ? `SELECT install_uuid, job_remote_id FROM read_parquet(${literal(eventsParquet)})` : undefined;
  // Each table streams from its aggregation into Parquet: a table built first cost as much again to copy.
  const hostRows = await db.run(`COPY (${usageSelects(src).hosts}) TO ${literal(out.hosts)} (${PARQUET_V2})`);
  // A part of DIRECT rows alone (nearly every day; counted on its one small column) has every job
  // among its DIRECT ones: the jobs file comes straight from the part, without the per-job table
  // and its three statements (~60 % of the jobs file's instructions).
  const [c] = await db.all<{ k: bigint; other: bigint }>(
    `SELECT count(*) FILTER (WHERE managed_node_type <> ${DIRECT}) AS k, count(*) AS other FROM ${src} WHERE managed_node_type IS DISTINCT FROM ${DIRECT}`,
  );
  const indirectRows = Number(c?.k ?? 0);
  if (Number(c?.other ?? 0) === 0) return { hosts: hostRows, jobs: await copyUsageJobs(db, src, undefined, eventJobs, out.jobs), indirectRows };
  // Else the jobs and those without a DIRECT row come from one read of the rows (two reads cost
  // ~30 % more): per (o, t, u, j), a DIRECT row if any (DIRECT is the smaller type).
  const perJob = db.tableName('usage_per_job');
  await db.run(
    `CREATE TEMP TABLE ${perJob} AS SELECT organization_name, job_template_name, install_uuid, job_remote_id,
       min(managed_node_type) AS managed_node_type FROM ${src} GROUP BY ALL`,
  );
  try {
    return { hosts: hostRows, jobs: await copyUsageJobs(db, perJob, `SELECT install_uuid, job_remote_id FROM ${perJob}`, eventJobs, out.jobs), indirectRows };
  } finally {
    await db.run(`DROP TABLE IF EXISTS ${perJob}`);
  }
}

/**
 * Write the usage jobs file to `path`: the jobs of `rows` (with a DIRECT row, `direct`), then the
 * other jobs of `jobs` and of `eventJobs` (SELECTs of install_uuid, job_remote_id) without one.
 * Returns its rows.
 */
function copyUsageJobs(db: TallyDuckDb, rows: string, jobs: string | undefined, eventJobs: string | undefined, path: string): Promise<number> {
  const others = [jobs, eventJobs].filter((s) => s !== undefined);
  const direct = usageSelects(rows).jobs;
  const select =
    others.length === 0
      ? `SELECT o, t, u, j, true AS direct FROM (${direct})`
      : `WITH d AS MATERIALIZED (${direct})
         SELECT o, t, u, j, true AS direct FROM d
         UNION ALL SELECT NULL::VARCHAR, NULL::VARCHAR, u, j, false FROM (
           SELECT * FROM (${others.join(' UNION ')}) AS x(u, j) EXCEPT SELECT u, j FROM d)`;
  return db.run(`COPY (${select}) TO ${literal(path)} (${PARQUET_V2})`);
}

/**
 * Can this rollup's usage tables be merged with others' (it has them, no INDIRECT rows; job events
 * only when `content` is not asked for or it has their content rollup)?
 */
export const usageMergeable = (m: RollupManifest, content = false): boolean =>
  m.usage !== undefined && m.usage.indirectRows === 0 && (!m.parts.main_jobevent?.rows || !content || m.usage.content !== undefined);

/**
 * Usage hosts rows of periods that share no job (`from`), merged per (o, t, h): every grouped
 * job-host row lies in one period, so counts and task runs add up, and first and last times are
 * the extremes (the day files' columns, sums as DuckDB types them).
 */
export function mergedUsageHosts(from: string): string {
  return `SELECT o, t, h, sum(n) AS n, sum(tr) AS tr, min(f) AS f, max(l) AS l, min(jc_first) AS jc_first, max(jc_last) AS jc_last FROM ${from} GROUP BY o, t, h`;
}

/** The report's jobs (`USAGE_TABLES.jobs`) among usage jobs rows (`from`): those with a DIRECT row (`and`: a further condition, ` AND …`). */
export function directJobs(from: string, and = ''): string {
  return `SELECT DISTINCT o, t, u, j FROM ${from} WHERE direct${and}`;
}

/** Does some job (install_uuid, job id) appear in two of these periods' jobs files? */
export async function usageRollupsOverlap(db: Pick<TallyDuckDb, 'all'>, jobsFiles: readonly string[]): Promise<boolean> {
  const files = [...new Set(jobsFiles)];
  if (files.length < 2) return false;
  // Each file by its index in the list: a distinct count of file names cost ~2x the CPU.
  const [r] = await db.all<{ n: bigint }>(
    `SELECT count(*) AS n FROM (SELECT u, j FROM read_parquet([${files.map(literal).join(', ')}])
     GROUP BY u, j HAVING min(file_index) <> max(file_index))`,
  );
  return Number(r?.n ?? 0) > 0;
}

/**
 * The usage tables (`USAGE_TABLES.hosts`, `.jobs`) of periods whose usage rollups do not overlap
 * (see `usageRollupsOverlap`), merged; `empty` when no period had a DIRECT row (before the filter).
 */
export async function usageFromRollups(
  db: Pick<TallyDuckDb, 'all' | 'run'>,
  files: { hosts: readonly string[]; jobs: readonly string[] },
  organizationFilter: readonly string[] | undefined,
): Promise<{ empty: boolean }> {
  const inOrgs = organizationFilter?.length ? ` AND o IN (${organizationFilter.map(literal).join(', ')})` : '';
  const read = (list: readonly string[]) => `read_parquet([${list.map(literal).join(', ')}])`;
  // Each file holds one row per (o, t, h) (written grouped): one file needs no merge.
  const rows = `SELECT * FROM ${read(files.hosts)} WHERE true${inOrgs}`;
  const merged = files.hosts.length === 1 ? rows : mergedUsageHosts(`(${rows})`);
  await db.run(
    `CREATE OR REPLACE TABLE ${USAGE_TABLES.hosts} AS SELECT o, t, h, CAST(n AS HUGEINT) AS n, CAST(tr AS HUGEINT) AS tr, f, l, jc_first, jc_last FROM (${merged})`,
  );
  await db.run(`CREATE OR REPLACE TABLE ${USAGE_TABLES.jobs} AS ${directJobs(read(files.jobs), inOrgs)}`);
  const [e] = await db.all<{ n: bigint }>(`SELECT count(*) AS n FROM ${read(files.hosts)}`);
  return { empty: Number(e?.n ?? 0) === 0 };
}
