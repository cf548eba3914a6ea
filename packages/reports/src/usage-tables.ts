/**
 * The usage tables every CCSP/CCSPv2 number is computed from, built from job host summaries:
 *
 * - `report_hosts`: one row per (organization, template, host) with `n`, the number of grouped
 *   job-host rows (the reference's index organization, template, host, original host,
 *   install_uuid, job), their task runs, first/last automation, and the first/last job creation
 *   over those grouped rows (each grouped row's job_created is its maximum, as the reference has it);
 * - `report_jobs`: the distinct (organization, template, install_uuid, job) of those rows;
 * - `report_host_map` (only with events): (original host, install_uuid, job) → host name where
 *   the job host summaries renamed the host (ansible_host), for the content-usage sheets.
 *
 * Only grouped rows with a DIRECT member count (the reference reports directly managed nodes);
 * INDIRECT members of such a row still add their task runs and times.
 *
 * Two ways to build them, with identical results:
 * - `usageFromPrepared` (fast): never forms the ~one-group-per-row index on six strings.
 *   The prepared rows are aggregated ONCE, by grouping sets on 64-bit hashes of the index
 *   strings: the (hashes + names) set gives the per-host rows and the hash→name dictionary,
 *   the (hashes, job) set gives the jobs, and the full-index set keeps only groups of more than
 *   one row (duplicate deliveries, INDIRECT members), which are corrected for afterwards. The
 *   dictionary proves every hash stands for one name (no collision among the values present),
 *   so equal hash keys are equal indexes: the result is exact. When a collision or a grouped row
 *   whose members disagree on job_created shows up, it returns false and the caller uses:
 * - `usageFromGrouped` (exact, slower): from the materialized grouped rows.
 */
import type { ReportDb } from './tables.js';

export const USAGE_TABLES = { hosts: 'report_hosts', jobs: 'report_jobs', hostMap: 'report_host_map' } as const;

const DIRECT = 0;
const ORG_FILTER = 'report_org_filter';

export interface UsageOptions {
  /** Only these organizations (METRICS_UTILITY_ORGANIZATION_FILTER); empty or absent = all. */
  organizationFilter?: readonly string[] | undefined;
  /** Build `report_host_map` (needed only when the tarballs had events). */
  hostMap: boolean;
}

export interface UsageResult {
  /** No job host summary at all (before the organization filter): the period has no billing data. */
  empty: boolean;
}

export interface HashedUsageOptions extends UsageOptions {
  /**
   * SQL of the 64-bit key hash of an expression (default DuckDB's `hash`). Tests pass a weak one
   * to force collisions and check that they are detected.
   */
  keyHash?: (expr: string) => string;
}

/**
 * `column => ' AND <column> IN (filter)'`, or nothing without a filter (the names go into a
 * table through parameters, never into the SQL text).
 */
async function orgFilter(db: ReportDb, filter: readonly string[] | undefined): Promise<(column: string) => string> {
  if (!filter?.length) return () => '';
  await db.run(`CREATE OR REPLACE TEMP TABLE ${ORG_FILTER} (name VARCHAR)`);
  for (const name of filter) await db.run(`INSERT INTO ${ORG_FILTER} VALUES ($1)`, [name]);
  return (column) => ` AND ${column} IN (SELECT name FROM ${ORG_FILTER})`;
}

/**
 * Exact usage tables from `grouped`, a table of grouped job host summary rows (index columns,
 * task_runs, first/last_automation, job_created, managed_node_type).
 */
export async function usageFromGrouped(db: ReportDb, grouped: string, opts: UsageOptions): Promise<UsageResult> {
  const [e] = await db.all(`SELECT NOT EXISTS (SELECT 1 FROM ${grouped} WHERE managed_node_type = ${DIRECT}) AS empty`);
  const where = `managed_node_type = ${DIRECT}${(await orgFilter(db, opts.organizationFilter))('organization_name')}`;
  await db.run(
    `CREATE OR REPLACE TABLE ${USAGE_TABLES.hosts} AS SELECT organization_name AS o, job_template_name AS t, host_name AS h,
       count(*) AS n, sum(task_runs) AS tr, min(first_automation) AS f, max(last_automation) AS l,
       min(job_created) AS jc_first, max(job_created) AS jc_last
     FROM ${grouped} WHERE ${where} GROUP BY ALL`,
  );
  await db.run(
    `CREATE OR REPLACE TABLE ${USAGE_TABLES.jobs} AS SELECT DISTINCT organization_name AS o, job_template_name AS t,
       install_uuid AS u, job_remote_id AS j FROM ${grouped} WHERE ${where}`,
  );
  if (opts.hostMap) {
    await db.run(
      `CREATE OR REPLACE TABLE ${USAGE_TABLES.hostMap} AS SELECT original_host_name, install_uuid, job_remote_id, max(host_name) AS host_name
       FROM ${grouped} WHERE ${where} GROUP BY ALL HAVING max(host_name) IS DISTINCT FROM original_host_name`,
    );
  }
  return { empty: Boolean(e?.empty) };
}

/** Grouping-set kinds of `report_sets` (GROUPING(o) * 2 + GROUPING(hh)). */
const HOSTS = 0;
const INDEX = 2;
const JOBS = 3;
const SETS = 'report_sets';
const INDIRECT_SETS = 'report_indirect';
const KEY = ['ho', 'ht', 'hh', 'hoh', 'hu'] as const;
const NAMES = ['o', 't', 'h', 'oh', 'u'] as const;

/**
 * Fast exact usage tables from `prepared`, a relation of prepared (not grouped) job host summary
 * rows. Returns false, building nothing, when the hashes cannot be trusted or a correction would
 * need the grouped rows (see the module comment); the caller then uses `usageFromGrouped`.
 */
export async function usageFromPrepared(db: ReportDb, prepared: string, opts: HashedUsageOptions): Promise<UsageResult | undefined> {
  const H = opts.keyHash ?? ((e: string) => `hash(${e})`);
  const inOrgs = await orgFilter(db, opts.organizationFilter);
  const rows =
    `SELECT organization_name AS o, job_template_name AS t, host_name AS h, original_host_name AS oh, install_uuid AS u, ` +
    `job_remote_id AS j, task_runs AS tr, created AS c, job_created AS jc, managed_node_type AS typ, ` +
    `${H('organization_name')} AS ho, ${H('job_template_name')} AS ht, ${H('host_name')} AS hh, ` +
    `${H('original_host_name')} AS hoh, ${H('install_uuid')} AS hu FROM ${prepared}`;
  const key = `${KEY.join(', ')}, j`;
  // INDIRECT rows (few: audit rows) on their own, grouped by index, names kept for the dictionary.
  await db.run(
    `CREATE OR REPLACE TEMP TABLE ${INDIRECT_SETS} AS SELECT ${key}, ${NAMES.join(', ')}, sum(tr) AS tr, min(c) AS f, max(c) AS l, max(jc) AS jmax
     FROM (${rows}) WHERE typ <> ${DIRECT} GROUP BY ALL`,
  );
  const [ind] = await db.all(`SELECT count(*) AS n FROM ${INDIRECT_SETS}`);
  // A singleton DIRECT group is kept too when an INDIRECT group may share its index (one hash
  // per index is enough to select: the join below compares every key column).
  const mixed = Number(ind?.n ?? 0) > 0 ? ` OR hash(${key}) IN (SELECT hash(${key}) FROM ${INDIRECT_SETS})` : '';
  // One pass over the DIRECT rows. The full-index set keeps just the groups a correction may
  // concern (more than one member, or an INDIRECT one).
  await db.run(
    `CREATE OR REPLACE TABLE ${SETS} AS SELECT GROUPING(o) * 2 + GROUPING(hh) AS g, ${key}, ${NAMES.join(', ')},
       count(*) AS n, sum(tr) AS tr, min(c) AS f, max(c) AS l, min(jc) AS jmin, max(jc) AS jmax
     FROM (${rows}) WHERE typ = ${DIRECT}
     GROUP BY GROUPING SETS ((${KEY.join(', ')}, ${NAMES.join(', ')}), (${key}), (ho, ht, hu, j))
     HAVING GROUPING(o) = 0 OR GROUPING(hh) = 1 OR count(*) > 1${mixed}`,
  );
  try {
    // Every hash must stand for one value (NULL counts as a value) among the values present.
    const dictionary = `(SELECT ${KEY.join(', ')}, ${NAMES.join(', ')} FROM ${SETS} WHERE g = ${HOSTS} UNION ALL SELECT ${KEY.join(', ')}, ${NAMES.join(', ')} FROM ${INDIRECT_SETS})`;
    const injective = NAMES.map(
      (name, i) => `SELECT 1 FROM ${dictionary} GROUP BY ${KEY[i]} HAVING count(DISTINCT ${name}) + max((${name} IS NULL)::INT) > 1`,
    );
    const [c] = await db.all(`SELECT EXISTS (${injective.join(' UNION ALL ')}) AS collision`);
    if (c?.collision) return undefined;

    const corrections =
      `SELECT s.*, s.n - 1 AS dups, i.tr AS tr_i, i.f AS f_i, i.l AS l_i, greatest(s.jmax, i.jmax) AS jc ` +
      `FROM ${SETS} s LEFT JOIN ${INDIRECT_SETS} i USING (${key}) WHERE s.g = ${INDEX}`;
    // A grouped row's job_created is the maximum over its members: the per-host minimum of the
    // members is that only when the members agree.
    const [a] = await db.all(`SELECT EXISTS (SELECT 1 FROM (${corrections}) WHERE jmin IS DISTINCT FROM jc) AS anomaly`);
    if (a?.anomaly) return undefined;

    await db.run(
      `CREATE OR REPLACE TABLE ${USAGE_TABLES.hosts} AS
       WITH fix AS (SELECT ${KEY.join(', ')}, sum(dups) AS dups, sum(tr_i) AS tr_i, min(f_i) AS f_i, max(l_i) AS l_i FROM (${corrections}) GROUP BY ALL)
       SELECT s.o, s.t, s.h, sum(s.n - COALESCE(fix.dups, 0)) AS n, sum(s.tr + COALESCE(fix.tr_i, 0)) AS tr,
         min(least(s.f, fix.f_i)) AS f, max(greatest(s.l, fix.l_i)) AS l, min(s.jmin) AS jc_first, max(s.jmax) AS jc_last
       FROM ${SETS} s LEFT JOIN fix USING (${KEY.join(', ')}) WHERE s.g = ${HOSTS}${inOrgs('s.o')} GROUP BY s.o, s.t, s.h`,
    );
    await db.run(
      `CREATE OR REPLACE TABLE ${USAGE_TABLES.jobs} AS
       SELECT DISTINCT d.o, d.t, d.u, s.j FROM ${SETS} s
       JOIN (SELECT DISTINCT ho, ht, hu, o, t, u FROM ${SETS} WHERE g = ${HOSTS}) d USING (ho, ht, hu)
       WHERE s.g = ${JOBS}${inOrgs('d.o')}`,
    );
    if (opts.hostMap) {
      // Exact, from the prepared rows of the hosts some job renamed (a second, filtered read).
      await db.run(
        `CREATE OR REPLACE TABLE ${USAGE_TABLES.hostMap} AS
         SELECT oh AS original_host_name, u AS install_uuid, j AS job_remote_id, max(h) AS host_name FROM (
           SELECT h, oh, u, j FROM (${rows}) WHERE true${inOrgs('o')} AND oh IN (SELECT oh FROM ${SETS} WHERE g = ${HOSTS} AND h IS DISTINCT FROM oh)
           GROUP BY o, t, h, oh, u, j HAVING min(typ) = ${DIRECT})
         GROUP BY ALL HAVING max(h) IS DISTINCT FROM oh`,
      );
    }
    const [e] = await db.all(`SELECT NOT EXISTS (SELECT 1 FROM ${SETS} WHERE g = ${HOSTS}) AS empty`);
    return { empty: Boolean(e?.empty) };
  } finally {
    await db.run(`DROP TABLE IF EXISTS ${SETS}`);
    await db.run(`DROP TABLE IF EXISTS ${INDIRECT_SETS}`);
  }
}
