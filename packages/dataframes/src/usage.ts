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
 * - `usageFromPrepared` (fast): never forms the month's millions of grouped rows (an index of
 *   six strings, about one group per row). ONE aggregation of the prepared rows by organization,
 *   template, host, original host and install_uuid (a few groups per managed node) keeps each
 *   group's job ids in a list: its distinct ids are its grouped rows, their union the jobs.
 *   Only groups whose members repeat a job (the same row delivered twice) or meet an INDIRECT
 *   member are read again, exactly, for their per-job job_created.
 * - `usageFromGrouped` (slower): from the materialized grouped rows; used when the fast one runs
 *   out of memory (its job-id lists spill only so far; grouping spills freely).
 */
import { type Logger, silentLogger } from '@tally/core';
import type { ExtractFailure, TarballDigest } from '@tally/extractors';
import type { Store } from '@tally/storage';
import { renamedHosts } from './ccsp-dedup.js';
import { contentUsage, restoreMemoryLimit } from './content-usage.js';
import { type Dataframe, installUuidOf, writeHostNameMap } from './dataframe.js';
import { type DuckDbStatements, isOutOfMemory, type TallyDuckDb } from './duckdb.js';
import { DIRECT, type JobHostSummary } from './job-host-summary.js';
import { loadExtracted, withExtracted } from './load.js';
import type { MainJobevent } from './main-jobevent.js';
import type { ReadySheets } from './usage-sheets.js';

/** What the usage SQL needs of a database (a TallyDuckDb). */
type UsageDb = Pick<TallyDuckDb, 'all' | 'run'>;

export const USAGE_TABLES = { hosts: 'report_hosts', jobs: 'report_jobs', hostMap: 'report_host_map', content: 'report_content' } as const;
export { CONTENT_KEYS, type ContentKey } from './content-usage.js';

const ORG_FILTER = 'report_org_filter';

export interface UsageSqlOptions {
  /** Only these organizations (METRICS_UTILITY_ORGANIZATION_FILTER); empty or absent = all. */
  organizationFilter?: readonly string[] | undefined;
  /** Build `report_host_map` (needed only when the tarballs had events). */
  hostMap: boolean;
  /**
   * Every install_uuid of the rows (from the tarballs' config.json, null for none). When their
   * hashes differ, the scan aggregation keys on the hash instead of the 36-character text
   * (~25% of its time).
   */
  installs?: readonly (string | null)[];
}

export interface UsageResult {
  /** No job host summary at all (before the organization filter): the period has no billing data. */
  empty: boolean;
}

/**
 * `column => ' AND <column> IN (filter)'`, or nothing without a filter (the names go into a
 * table through parameters, never into the SQL text).
 */
async function orgFilter(db: UsageDb, filter: readonly string[] | undefined): Promise<(column: string) => string> {
  if (!filter?.length) return () => '';
  await db.run(`CREATE OR REPLACE TEMP TABLE ${ORG_FILTER} (name VARCHAR)`);
  for (const name of filter) await db.run(`INSERT INTO ${ORG_FILTER} VALUES ($1)`, [name]);
  return (column) => ` AND ${column} IN (SELECT name FROM ${ORG_FILTER})`;
}

/**
 * The usage tables' SELECTs over `grouped` (grouped job host summary rows: index columns,
 * task_runs, first/last_automation, job_created, managed_node_type), its DIRECT rows only, with
 * `and` (SQL, e.g. an organization filter) added to the filter. Shared by the report's tables
 * and the usage rollups, which write them straight to Parquet.
 */
export function usageSelects(grouped: string, and = ''): { hosts: string; jobs: string; hostMap: string; where: string } {
  const where = `managed_node_type = ${DIRECT}${and}`;
  return {
    where,
    hostMap: `SELECT original_host_name, install_uuid, job_remote_id, max(host_name) AS host_name
       FROM ${grouped} WHERE ${where} GROUP BY ALL HAVING max(host_name) IS DISTINCT FROM original_host_name`,
    hosts: `SELECT organization_name AS o, job_template_name AS t, host_name AS h,
       count(*) AS n, sum(task_runs) AS tr, min(first_automation) AS f, max(last_automation) AS l,
       min(job_created) AS jc_first, max(job_created) AS jc_last
     FROM ${grouped} WHERE ${where} GROUP BY ALL`,
    jobs: `SELECT DISTINCT organization_name AS o, job_template_name AS t, install_uuid AS u, job_remote_id AS j FROM ${grouped} WHERE ${where}`,
  };
}

/**
 * Exact usage tables from `grouped`, a table of grouped job host summary rows (index columns,
 * task_runs, first/last_automation, job_created, managed_node_type).
 */
export async function usageFromGrouped(db: UsageDb, grouped: string, opts: UsageSqlOptions): Promise<UsageResult> {
  const [e] = await db.all(`SELECT NOT EXISTS (SELECT 1 FROM ${grouped} WHERE managed_node_type = ${DIRECT}) AS empty`);
  const { hosts, jobs, hostMap } = usageSelects(grouped, (await orgFilter(db, opts.organizationFilter))('organization_name'));
  await db.run(`CREATE OR REPLACE TABLE ${USAGE_TABLES.hosts} AS ${hosts}`);
  await db.run(`CREATE OR REPLACE TABLE ${USAGE_TABLES.jobs} AS ${jobs}`);
  if (opts.hostMap) await db.run(`CREATE OR REPLACE TABLE ${USAGE_TABLES.hostMap} AS ${hostMap}`);
  return { empty: Boolean(e?.empty) };
}

const HOST_ROWS = 'report_host_rows';
const INDIRECT = 'report_indirect';
const MIXED = 'report_mixed';
const REREAD = 'report_reread';
const INSTALLS = 'report_installs';
/** The per-host index: the reference's index without the job. */
const KEY = ['o', 't', 'h', 'oh', 'u'] as const;
const sameKey = (a: string, b: string, key: readonly string[] = KEY) => key.map((k) => `${a}.${k} IS NOT DISTINCT FROM ${b}.${k}`).join(' AND ');
/**
 * Distinct job ids of a group, NULL counting as one (a grouped row may have no job id): the
 * list's distinct ids, plus one when `nonNull` (the group's count of job ids) is short of `n`.
 */
const distinctJobs = (list: string, nonNull: string, n: string) => `list_unique(${list}) + (${nonNull} < ${n})::INT`;

/**
 * Do the install uuids all hash apart (NULL counting as a value)? False when unknown. When they
 * do, `INSTALLS` is left holding each one beside its hash (`hu`), for the aggregation keyed on the
 * hash to look its install up: that costs less than carrying the text along in every group.
 */
async function installsHashApart(db: UsageDb, installs: readonly (string | null)[] | undefined): Promise<boolean> {
  if (!installs) return false;
  await db.run(`CREATE OR REPLACE TEMP TABLE ${INSTALLS} (u VARCHAR)`);
  for (const u of new Set(installs)) await db.run(`INSERT INTO ${INSTALLS} VALUES ($1)`, [u]);
  const [r] = await db.all(`SELECT count(DISTINCT hash(u)) = count(*) AS apart FROM ${INSTALLS}`);
  if (r?.apart) await db.run(`CREATE OR REPLACE TEMP TABLE ${INSTALLS} AS SELECT u, hash(u) AS hu FROM ${INSTALLS}`);
  else await db.run(`DROP TABLE ${INSTALLS}`);
  return Boolean(r?.apart);
}

/**
 * The per-host aggregation's install column (`install`) and how its rows get `u` back: keyed on
 * the install's hash when the installs hash apart (the text is looked up once per group, see
 * `installsHashApart`; a hash not listed fails the statement), else on the text itself.
 */
function installKey(hashed: boolean): { key: string; u: string; join: string } {
  if (!hashed) return { key: 'u', u: 'r.install AS u', join: '' };
  return {
    key: 'hash(u)',
    u: `CASE WHEN i.hu IS NULL THEN error('usage: an install_uuid was not listed') ELSE i.u END AS u`,
    join: ` LEFT JOIN ${INSTALLS} i ON r.install = i.hu`,
  };
}

/**
 * Job host summary rows, prepared or grouped alike, as the usage aggregation reads them: a
 * grouped row (a rollup's) is one member carrying its members' sums, first and last times and
 * latest job_created; grouping members or grouped rows gives the same grouped rows.
 */
function usageRowsOf(pending: { prepared: string; parquet: string | undefined; hasPrepared: boolean }): string {
  const index = 'organization_name AS o, job_template_name AS t, host_name AS h, original_host_name AS oh, install_uuid AS u, job_remote_id AS j, task_runs AS tr';
  const parts: string[] = [];
  if (pending.hasPrepared || !pending.parquet) parts.push(`SELECT ${index}, created AS cf, created AS cl, job_created AS jc, managed_node_type AS typ FROM ${pending.prepared}`);
  if (pending.parquet) parts.push(`SELECT ${index}, first_automation AS cf, last_automation AS cl, job_created AS jc, managed_node_type AS typ FROM ${pending.parquet}`);
  return `(${parts.join(' UNION ALL ')})`;
}

/**
 * Usage tables from `usageRows` (see `usageRowsOf`), read once, or twice when some grouped rows
 * have several members (see the module comment).
 */
async function usageFromPrepared(db: UsageDb, usageRows: string, opts: UsageSqlOptions): Promise<UsageResult> {
  const inOrgs = await orgFilter(db, opts.organizationFilter);
  const rows = `SELECT * FROM ${usageRows}`;
  const key = KEY.join(', ');
  try {
    const install = installKey(await installsHashApart(db, opts.installs));
    await db.run(
      `CREATE OR REPLACE TABLE ${HOST_ROWS} AS SELECT r.o, r.t, r.h, r.oh, ${install.u}, n, tr, f, l, jmin, jmax, js, ${distinctJobs('js', 'nj', 'n')} AS g FROM (
         SELECT o, t, h, oh, ${install.key} AS install, count(*) AS n, count(j) AS nj, sum(tr) AS tr, min(cf) AS f, max(cl) AS l,
           min(jc) AS jmin, max(jc) AS jmax, list(j) AS js
         FROM (${rows}) WHERE typ = ${DIRECT} GROUP BY o, t, h, oh, install) r${install.join}`,
    );
    // INDIRECT rows are few (audits): grouped exactly; those sharing a DIRECT grouped row join it.
    await db.run(
      `CREATE OR REPLACE TEMP TABLE ${INDIRECT} AS SELECT ${key}, j, sum(tr) AS tr, min(cf) AS f, max(cl) AS l, max(jc) AS jmax
       FROM (${rows}) WHERE typ <> ${DIRECT} GROUP BY ALL`,
    );
    // Without INDIRECT rows (the usual month) the join would still read every group's job list.
    const [ind] = await db.all(`SELECT count(*) AS n FROM ${INDIRECT}`);
    await db.run(
      Number(ind?.n ?? 0) === 0
        ? `CREATE OR REPLACE TEMP TABLE ${MIXED} AS SELECT * FROM ${INDIRECT}`
        : `CREATE OR REPLACE TEMP TABLE ${MIXED} AS SELECT i.* FROM ${INDIRECT} i JOIN ${HOST_ROWS} r ON ${sameKey('i', 'r')}
           WHERE CASE WHEN i.j IS NULL THEN len(list_filter(r.js, x -> x IS NULL)) > 0 ELSE list_contains(r.js, i.j) END`,
    );
    // Grouped rows with several members (or an INDIRECT one): their job_created is the members'
    // maximum, which the per-host minimum cannot tell; read just their hosts' rows again.
    await db.run(
      `CREATE OR REPLACE TEMP TABLE ${REREAD} AS SELECT ${key} FROM ${HOST_ROWS} WHERE g < n
       UNION SELECT ${key} FROM ${MIXED}`,
    );
    const [again] = await db.all(`SELECT count(*) AS n FROM ${REREAD}`);
    const perJob =
      Number(again?.n ?? 0) === 0
        ? `SELECT ${key}, NULL::TIMESTAMP AS jc_first, true AS reread FROM ${REREAD}`
        : `SELECT ${KEY.map((k) => `x.${k}`).join(', ')}, min(greatest(x.jc, m.jmax)) AS jc_first, true AS reread FROM (
             SELECT d.${KEY.join(', d.')}, d.j, max(d.jc) AS jc FROM (${rows}) d
             JOIN ${REREAD} s ON ${sameKey('d', 's')} WHERE d.typ = ${DIRECT} GROUP BY ALL) x
           LEFT JOIN ${MIXED} m ON ${sameKey('x', 'm')} AND x.j IS NOT DISTINCT FROM m.j GROUP BY ALL`;
    await db.run(
      `CREATE OR REPLACE TABLE ${USAGE_TABLES.hosts} AS
       WITH mx AS (SELECT ${key}, sum(tr) AS tr, min(f) AS f, max(l) AS l, max(jmax) AS jmax FROM ${MIXED} GROUP BY ALL),
       pj AS (${perJob})
       SELECT r.o, r.t, r.h, sum(r.g) AS n, sum(r.tr + COALESCE(mx.tr, 0)) AS tr, min(least(r.f, mx.f)) AS f,
         max(greatest(r.l, mx.l)) AS l, min(CASE WHEN pj.reread THEN pj.jc_first ELSE r.jmin END) AS jc_first,
         max(greatest(r.jmax, mx.jmax)) AS jc_last
       FROM ${HOST_ROWS} r LEFT JOIN mx ON ${sameKey('r', 'mx')} LEFT JOIN pj ON ${sameKey('r', 'pj')}
       WHERE true${inOrgs('r.o')} GROUP BY r.o, r.t, r.h`,
    );
    // The month's millions of job ids are made distinct under a small integer per (organization,
    // template, install) rather than beside its strings: half the time.
    await db.run(
      `CREATE OR REPLACE TABLE ${USAGE_TABLES.jobs} AS
       WITH k AS (SELECT o, t, u, row_number() OVER () AS id FROM (SELECT DISTINCT o, t, u FROM ${HOST_ROWS} WHERE true${inOrgs('o')})),
       d AS (SELECT DISTINCT k.id, unnest(r.js) AS j FROM ${HOST_ROWS} r JOIN k ON ${sameKey('r', 'k', ['o', 't', 'u'])})
       SELECT k.o, k.t, k.u, d.j FROM d JOIN k USING (id)`,
    );
    if (opts.hostMap) {
      // From the job lists of the hosts some job renamed: a grouped row with a DIRECT member
      // has its job in its host row's list (NULL included), so the rows need no second read.
      await db.run(
        `CREATE OR REPLACE TABLE ${USAGE_TABLES.hostMap} AS
         SELECT oh AS original_host_name, u AS install_uuid, j AS job_remote_id, max(h) AS host_name FROM (
           SELECT h, oh, u, unnest(js) AS j FROM ${HOST_ROWS}
           WHERE true${inOrgs('o')} AND oh IN (SELECT oh FROM ${HOST_ROWS} WHERE h IS DISTINCT FROM oh))
         GROUP BY ALL HAVING max(h) IS DISTINCT FROM oh`,
      );
    }
    const [e] = await db.all(`SELECT NOT EXISTS (SELECT 1 FROM ${HOST_ROWS}) AS empty`);
    return { empty: Boolean(e?.empty) };
  } finally {
    for (const t of [HOST_ROWS, INDIRECT, MIXED, REREAD, INSTALLS]) await db.run(`DROP TABLE IF EXISTS ${t}`);
  }
}

/**
 * The usage tables of a job host summary dataframe (and its events): what every CCSP/CCSPv2
 * sheet is computed from. Table names are fixed (`USAGE_TABLES`): one set per database.
 */
export interface UsageTables {
  db: TallyDuckDb;
  hosts: string;
  jobs: string;
  /** Present when the events dataframe had rows. */
  hostMap?: string | undefined;
  /** The content-usage sheets' rows (`report_content`, see `contentUsage`), when there were events. */
  content?: string | undefined;
  /** With `deferContent`: fills `content`, once; await it before reading `content`. */
  contentReady?: (() => Promise<void>) | undefined;
  /** The grouped main_jobevent table, when there were events and `keepEvents` asked for it. */
  events?: string | undefined;
  /** No DIRECT job host summary at all (before the organization filter): no billing data. */
  empty: boolean;
  /**
   * The usage sheets' rows already aggregated (usage-sheets.ts), when a read was asked for them
   * (`PeriodUsageOptions.readySheets`) and its days have them: `hosts` and `jobs` are then not built.
   */
  ready?: ReadySheets | undefined;
  /**
   * The database's second connection (`TallyDuckDb.beside`), when every table above is a regular
   * table (a temp table is its connection's own): a consumer may run statements there beside `db`'s.
   */
  beside?: DuckDbStatements | undefined;
  /** How they were built: from the prepared rows (`scan`, fast), from grouped rows, or merged from usage rollups. */
  method: 'scan' | 'grouped' | 'usage-rollups';
}

export interface UsageOptions {
  /** Only these organizations (METRICS_UTILITY_ORGANIZATION_FILTER); empty or absent = all. */
  organizationFilter?: readonly string[] | undefined;
  /** Read once into `report_content` for the content-usage sheets. */
  events?: MainJobevent | undefined;
  /**
   * Also group the events into their table (`UsageTables.events`), for a consumer that needs
   * their rows (INDIRECT collections counted beside them); asked once the rows are loaded.
   */
  keepEvents?: (() => boolean) | undefined;
  /** Every install_uuid of the prepared rows, when known (a cheaper key; see `installsHashApart`). */
  installs?: readonly (string | null)[] | undefined;
  /** Testing: always build from grouped rows. */
  method?: 'grouped';
  /**
   * Leave the content sheets' counting statement to `UsageTables.contentReady` when it reads no
   * CSV (raw events read once), so the caller overlaps it with other work.
   */
  deferContent?: boolean | undefined;
  /**
   * Rename hosts first (ccsp-experimental's mapping from `dedupCcspExperimental`): the tables are
   * those of the job host summaries regrouped with it (`regroup({ hostNameMapping })`).
   */
  hostNameMapping?: ReadonlyMap<string, string> | undefined;
  /**
   * Rows not grouped yet (Parquet, raw) are grouped into a scratch table and dropped from the
   * dataframe instead of into its `table` (cheaper: the unused columns are never built).
   */
  consume?: boolean;
}

/** What `usageFromGrouped` reads of the grouped rows, besides their index columns. */
const GROUPED_DATA_COLUMNS = ['task_runs', 'first_automation', 'last_automation', 'job_created', 'managed_node_type'] as const;
const SCRATCH = 'usage_grouped_jhs';
const HOST_NAME_MAP = 'usage_host_name_map';

/**
 * Usage tables from whatever `jhs` holds. Only prepared rows (raw CSVs) and staged Parquet
 * rollups (`stageParquet`): ONE aggregation straight from them, never forming the grouped rows.
 * Otherwise from the grouped rows (everything folded with the regroup semantics first). Both give
 * the same tables.
 */
export async function usageTables(jhs: JobHostSummary, opts: UsageOptions = {}): Promise<UsageTables> {
  await restoreMemoryLimit(jhs.db);
  const tables = await jobUsageTables(jhs, { ...opts, hostMap: (opts.events?.sources ?? 0) > 0 });
  const events = opts.events;
  if (!events || events.sources === 0) return tables;
  const keep = opts.keepEvents?.() ?? false;
  if (keep) await events.group();
  const deferred = await contentUsage(
    tables.db,
    USAGE_TABLES.content,
    {
      keys: () => events.contentKeys(),
      rows: (ids) => events.usageRows(ids),
      eventLists: (t, sql) => events.eventLists(t, sql),
      hostMap: USAGE_TABLES.hostMap,
      hosts: `(SELECT DISTINCT h FROM ${USAGE_TABLES.hosts})`,
      installs: await events.installs(opts.installs),
    },
    { defer: opts.deferContent ?? false },
  );
  // Deferred only when some event was read: the table will have rows.
  if (deferred) return { ...tables, hostMap: USAGE_TABLES.hostMap, content: USAGE_TABLES.content, contentReady: deferred.run, events: keep ? events.table : undefined };
  const [n] = await tables.db.all<{ n: bigint }>(`SELECT count(*) AS n FROM ${USAGE_TABLES.content}`);
  if (Number(n?.n ?? 0) === 0) return tables;
  return { ...tables, hostMap: USAGE_TABLES.hostMap, content: USAGE_TABLES.content, events: keep ? events.table : undefined };
}

/** The usage tables of the job host summaries (and the host map, with `hostMap`). */
async function jobUsageTables(jhs: JobHostSummary, opts: UsageOptions & { hostMap: boolean }): Promise<UsageTables> {
  const db = jhs.db;
  const sql = { organizationFilter: opts.organizationFilter, hostMap: opts.hostMap, installs: opts.installs };
  const base = { db, hosts: USAGE_TABLES.hosts, jobs: USAGE_TABLES.jobs };
  const mapping = opts.hostNameMapping?.size ? opts.hostNameMapping : undefined;
  const pending = opts.method === 'grouped' ? undefined : await jhs.pendingRows();
  if (!pending && mapping) {
    await jhs.regroup({ hostNameMapping: mapping });
    return { ...base, method: 'grouped', empty: (await usageFromGrouped(db, jhs.table, sql)).empty };
  }
  if (pending) {
    // The install uuids given are those of the prepared rows; Parquet rows may carry others (few: read from the files).
    let installs = pending.hasPrepared ? opts.installs : [];
    if (installs && pending.parquet) {
      const rows = await db.all<{ u: string | null }>(`SELECT DISTINCT install_uuid AS u FROM ${pending.parquet}`);
      installs = [...installs, ...rows.map((r) => r.u)];
    }
    if (!mapping) return { ...base, method: 'scan', empty: (await usageFromPrepared(db, usageRowsOf(pending), { ...sql, installs })).empty };
    // Renaming the rows as they are read gives the regrouped rows' tables: the aggregation counts
    // the distinct (host, original host, job) of the renamed rows, as regrouping would merge them.
    const map = await writeHostNameMap(db, HOST_NAME_MAP, mapping);
    try {
      return { ...base, method: 'scan', empty: (await usageFromPrepared(db, renamedHosts(usageRowsOf(pending), map, 'h'), { ...sql, installs })).empty };
    } finally {
      await db.run(`DROP TABLE ${HOST_NAME_MAP}`);
    }
  }
  if (!opts.consume) {
    await jhs.group();
    return { ...base, method: 'grouped', empty: (await usageFromGrouped(db, jhs.table, sql)).empty };
  }
  await jhs.groupInto(SCRATCH, { columns: [...jhs.indexColumns, ...GROUPED_DATA_COLUMNS] });
  try {
    return { ...base, method: 'grouped', empty: (await usageFromGrouped(db, SCRATCH, sql)).empty };
  } finally {
    await db.run(`DROP TABLE IF EXISTS ${SCRATCH}`);
  }
}

export interface LoadUsageOptions {
  storage: Store;
  /** `[since, until)`, whole UTC days (`data/YYYY/MM/DD` folders). */
  since: Date;
  until: Date;
  jobHostSummary: JobHostSummary;
  events?: MainJobevent | undefined;
  organizationFilter?: readonly string[] | undefined;
  logger?: Logger;
  /** Testing: build the usage tables from grouped rows (the out-of-memory fallback). */
  method?: 'grouped';
  /**
   * Called once the tarballs are extracted, as DuckDB starts aggregating on its own threads: the
   * main thread is free then (progress is told there; the caller may start its own work).
   */
  onExtracted?: (read: { tarballs: number; rows: number }) => void;
  /**
   * Which of the two to read from the tarballs (default both): a report whose sheets need no job
   * host summaries never touches job_host_summary.csv (its usage tables are then empty).
   */
  read?: { jobHostSummary?: boolean; events?: boolean } | undefined;
  /** More dataframes read from the same tarballs (e.g. main_host, data_collection_status). */
  extraDataframes?: readonly Dataframe[] | undefined;
  /** See `UsageOptions.keepEvents`. */
  keepEvents?: (() => boolean) | undefined;
  /** See `UsageOptions.deferContent`. */
  deferContent?: boolean | undefined;
  /**
   * Called once the tarballs are loaded, BEFORE the usage tables consume the job host summaries'
   * prepared rows (e.g. to group the INDIRECT rows apart). Called again if the out-of-memory
   * fallback reloads the tarballs.
   */
  onLoaded?: (() => Promise<LoadedAdjustments | undefined>) | undefined;
}

/** What `onLoaded` may ask of the usage tables once it has seen the loaded dataframes. */
export interface LoadedAdjustments {
  hostNameMapping?: ReadonlyMap<string, string> | undefined;
}

export interface LoadUsageResult {
  usage: UsageTables;
  /** Storage names of the tarballs whose rows were read. */
  tarballs: string[];
  failures: ExtractFailure[];
  /** Each tarball read: SHA-256, size and CSV record counts, taken as it was extracted. */
  digests: Map<string, TarballDigest>;
  /** The extracted files are being removed in the background; await before exiting. Never rejects. */
  removed: Promise<void>;
}

/**
 * Read every tarball of `[since, until)` into the dataframes (on top of whatever they hold, e.g.
 * rollups) and build the usage tables while the extracted CSVs exist: the job host summaries are
 * aggregated straight from the CSV scans, unless that runs out of memory (then they are grouped,
 * which spills more freely). A tarball that cannot be read is named in `failures` and contributes nothing.
 */
export async function loadUsage(opts: LoadUsageOptions): Promise<LoadUsageResult> {
  const log = opts.logger ?? silentLogger;
  const jhs = opts.jobHostSummary;
  const read = { jobHostSummary: opts.read?.jobHostSummary ?? true, events: opts.read?.events ?? true };
  const dfs: Dataframe[] = [...(read.jobHostSummary ? [jhs] : []), ...(opts.events && read.events ? [opts.events] : []), ...(opts.extraDataframes ?? [])];
  const loadOpts = { storage: opts.storage, since: opts.since, until: opts.until, logger: log };
  // With grouped rows already in, the usage comes from grouped rows: no cheaper plan to fall back from.
  const fresh = (await jhs.pendingRows()) !== undefined;
  let usage: UsageTables | undefined;
  let installs: (string | null)[] = [];
  const finish = async (method: 'grouped' | undefined) => {
    const adjust = await opts.onLoaded?.();
    usage = await usageTables(jhs, { organizationFilter: opts.organizationFilter, events: opts.events, keepEvents: opts.keepEvents, deferContent: opts.deferContent, installs, method, consume: true, hostNameMapping: adjust?.hostNameMapping });
  };
  const started = performance.now();
  const res = await withExtracted(dfs, loadOpts, async (extracted, result) => {
    const extractedAt = performance.now();
    log.debug('usage: tarballs extracted', { tarballs: extracted.length, ms: Math.round(extractedAt - started) });
    opts.onExtracted?.({ tarballs: extracted.length, rows: extracted.reduce((n, t) => n + [...(t.records?.values() ?? [])].reduce((a, b) => a + b, 0), 0) });
    installs = await Promise.all(extracted.map(installUuidOf));
    const kept = { tarballs: result.tarballs.length, failures: result.failures.length };
    try {
      await loadExtracted(dfs, extracted, result, log, { stage: true, finish: () => finish(opts.method), outOfMemory: fresh ? 'throw' : 'retry' });
    } catch (err) {
      if (!isOutOfMemory(err) || opts.method === 'grouped' || !fresh) throw err;
      log.info('usage: out of memory aggregating the CSV scans; grouping the job host summaries instead');
      result.tarballs.length = kept.tarballs;
      result.failures.length = kept.failures;
      // Tarball-by-tarball reading may have committed rows before the failure (staged rollups stay).
      for (const df of dfs) await df.clearRaw();
      await loadExtracted(dfs, extracted, result, log, { stage: true, finish: () => finish('grouped') });
    }
    log.debug('usage: tables built', { method: usage?.method, ms: Math.round(performance.now() - extractedAt) });
  }, { removeInBackground: true });
  if (!usage) throw new Error('loadUsage: the usage tables were not built');
  return { usage, tarballs: res.tarballs, failures: res.failures, digests: res.digests ?? new Map(), removed: res.removed };
}
