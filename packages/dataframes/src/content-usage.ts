/**
 * `report_content`: the content-usage sheets (Usage by collections, roles, modules) of a period's
 * job events, one row per sheet and key: unique managed nodes (hosts), non-unique ones (the
 * reference's `host_name__install_uuid__job_remote_id`), task runs and duration.
 */
import { isOutOfMemory, type TallyDuckDb } from './duckdb.js';

type ContentDb = Pick<TallyDuckDb, 'all' | 'run'>;

/** The content-usage sheets' keys, as `report_content.sheet` names them. */
export const CONTENT_KEYS = ['collection_name', 'role_name', 'module_name'] as const;
export type ContentKey = (typeof CONTENT_KEYS)[number];

/** Scratch tables of `contentUsage`'s integer keys. */
const KEYS = 'content_key_ids';
const TRIPLES = 'content_triple_ids';
const HOSTS = 'content_host_ids';
const HOST_MAP = 'content_host_map_ids';
const INSTALLS = 'content_install_ids';
const LISTS = 'content_event_lists';

export interface ContentInputs {
  /** Every (collection_name, role_name, module_name) of `rows` (a small relation; see MainJobevent.contentKeys). */
  keys: () => Promise<string>;
  /**
   * Rows of MainJobevent's columns, grouped or not (every figure is the same either way), with
   * the `columns` of `ids` when given (see MainJobevent.usageRows; asked after `keys`).
   */
  rows: (ids?: { table: string; columns: readonly string[] }) => Promise<string>;
  /** (original host, install_uuid, job) → host name where the job host summaries renamed it (ansible_host). */
  hostMap: string;
  /** Host names known beforehand (the job host summaries'): a column `h`. Others cost more, never a wrong count. */
  hosts: string;
  /** Every install_uuid of the events, when known (see `nodeColumnsExact`). */
  installs: readonly (string | null)[] | undefined;
  /** Raw events and staged rollup rows grouped by their names in one read each, when that is all there is (see MainJobevent.eventLists). */
  eventLists?: (table: string, sql: EventListsSql) => Promise<boolean>;
}

/** What `ContentInputs.eventLists` groups: SQL from `countOnceSql`. */
export interface EventListsSql {
  /** Each row of `events` mapped to its ids, with the columns `keep` (SQL over the row `e`) first. */
  rows: (events: string, keep: string) => string;
  /** The aggregates of a group of those rows, its task runs being `taskRuns` (`count(*)` for raw events, a sum for grouped rows). */
  aggregates: (taskRuns: string) => string;
}

/**
 * Can the reference's non-unique node, the text `host__install__job`, be grouped as the columns
 * (host, install, job)? Yes when no install holds `_` or is the text `nan` (NULL's spelling):
 * the job (digits or `nan`) and the install are then the text after the last two `__`, so equal
 * texts are equal columns. Narrower keys than the 70-character text.
 */
function nodeColumnsExact(installs: readonly (string | null)[] | undefined): boolean {
  return installs?.every((u) => u === null || (!u.includes('_') && u !== 'nan')) ?? false;
}

/**
 * The content statement of `contentUsage({ defer: true })` when it was left to run later: `run`
 * (once, however often called) counts into the table and drops the scratch tables.
 */
export interface DeferredContent {
  run: () => Promise<void>;
}

/**
 * ONE pass over the events, whose hosts are mapped through `hostMap`. What costs is counting the
 * distinct (key, node) pairs, about one per event: they are counted on integers, not strings
 * (half the time and less memory), a node as one 64-bit integer (`nodeInteger`). Every sheet key
 * gets an id (`KEYS`, from the few distinct keys), every install and every known host name an id
 * (`INSTALLS`, `HOSTS`), and the host map is keyed on those ids; a host name or install not known
 * beforehand is counted as its text beside them (no id, never a clash). Durations are added as whole microseconds, exact in any order: raw events and rollups give the
 * same cells.
 *
 * With `defer`, when the events were read once into lists (`countOnceSql`) and there are some,
 * the counting statement is not run: it reads only the lists, so a caller may run it later (a
 * report, while it writes the other sheets: the statement keeps about one DuckDB thread busy).
 */
export async function contentUsage(db: ContentDb, table: string, input: ContentInputs, opts: { defer?: boolean } = {}): Promise<DeferredContent | undefined> {
  if (!nodeColumnsExact(input.installs)) {
    await contentUsageByText(db, table, input);
    return undefined;
  }
  let deferred: DeferredContent | undefined;
  try {
    await hostIds(db, input);
    const node = await nodeInteger(db, input.installs);
    const once = await countOnceSql(db, table, input, node);
    if (once && opts.defer && (await hasRows(db, LISTS))) {
      deferred = deferredCount(db, once);
      return deferred;
    }
    const sql = once ?? countSql(table, await eventsJoined(db, input), node);
    await withMemoryLimit(db, CONTENT_MEMORY_LIMIT_BYTES, () => db.run(sql));
    return undefined;
  } finally {
    if (!deferred) await dropScratch(db);
  }
}

async function dropScratch(db: ContentDb): Promise<void> {
  for (const t of [KEYS, TRIPLES, HOSTS, HOST_MAP, INSTALLS, LISTS]) await db.run(`DROP TABLE IF EXISTS ${t}`);
}

async function hasRows(db: ContentDb, table: string): Promise<boolean> {
  const [r] = await db.all<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${table}) AS any`);
  return Boolean(r?.any);
}

/**
 * `sql` (the counting statement over the lists) to run once, later, outside the load's
 * transaction: running out of memory under the lower limit runs it again under the database's
 * own (the lists are still there; the load's fallback, which rebuilds everything, is over).
 */
function deferredCount(db: ContentDb, sql: string): DeferredContent {
  let ran: Promise<void> | undefined;
  const count = async () => {
    try {
      await withMemoryLimit(db, CONTENT_MEMORY_LIMIT_BYTES, () => db.run(sql));
    } catch (err) {
      if (!isOutOfMemory(err) || !outOfMemory.has(db)) throw err;
      await withMemoryLimit(db, CONTENT_MEMORY_LIMIT_BYTES, () => db.run(sql));
    } finally {
      await dropScratch(db);
    }
  };
  return {
    run: () => {
      ran ??= count();
      return ran;
    },
  };
}

/** The statement counting `e` (cid, rid, mid, hid, hn, uid, un, j, task_runs, us: see `mappedEvent`) into `table`. */
function countSql(table: string, e: string, node: PackedNode): string {
  return `CREATE OR REPLACE TABLE ${table} AS
     WITH e AS (${e}),
     s AS (
       SELECT COALESCE(cid, rid, mid) AS kid, count(DISTINCT hid) + count(DISTINCT hn) AS hosts,
         count(DISTINCT CASE WHEN ${node.packable} THEN ${node.packed} END) + count(DISTINCT CASE WHEN NOT (${node.packable}) THEN (hid, hn, uid, un, j) END) AS nodes,
         sum(task_runs) AS task_runs, CAST(COALESCE(sum(us), 0) AS DOUBLE) / 1e6 AS duration
       FROM e GROUP BY GROUPING SETS ((cid), (rid), (mid)))
     SELECT k.sheet, k.k, s.hosts, s.nodes, s.task_runs, s.duration FROM s JOIN ${KEYS} k USING (kid)`;
}

/**
 * An event of `events` (host_name, install_uuid, job_remote_id, duration) on ids: `hid` its host
 * (renamed through the host map) or `hn` the name when it has no id, `uid` its install or `un`
 * the text, `j` the job, `us` the duration in whole microseconds. `from` joins the id tables.
 */
function mappedEvent(events: string): { fields: [string, string][]; from: string } {
  return {
    fields: [
      ['hid', 'COALESCE(m.hid, d.hid)'],
      ['hn', 'CASE WHEN d.hid IS NULL THEN e.host_name END'],
      ['uid', 'i.uid'],
      ['un', 'CASE WHEN i.uid IS NULL THEN e.install_uuid END'],
      ['j', 'e.job_remote_id'],
      ['us', 'TRY_CAST(round(e.duration * 1e6) AS BIGINT)'],
    ],
    from: `${events} e
       LEFT JOIN ${HOSTS} d ON d.h = e.host_name
       LEFT JOIN ${INSTALLS} i ON i.u IS NOT DISTINCT FROM e.install_uuid
       LEFT JOIN ${HOST_MAP} m ON m.ohid = d.hid AND m.u IS NOT DISTINCT FROM e.install_uuid AND m.j IS NOT DISTINCT FROM e.job_remote_id`,
  };
}

/** The events (raw and rollup rows) as `countSql` reads them, the raw ones named by a pass of their own. */
async function eventsJoined(db: ContentDb, input: ContentInputs): Promise<string> {
  await keyIds(db, await input.keys());
  const { fields, from } = mappedEvent(await input.rows({ table: TRIPLES, columns: ['cid', 'rid', 'mid'] }));
  return `SELECT e.cid, e.rid, e.mid, ${fields.map(([k, v]) => `${v} AS ${k}`).join(', ')}, e.task_runs FROM ${from}`;
}

/**
 * Events read ONCE (`ContentInputs.eventLists`): raw events and staged rollup rows (grouped
 * events), each mapped to its ids (`mappedEvent`) and grouped by their names: per group its task
 * runs, microseconds and the list of its nodes as `nodeInteger`s (8 bytes a row; a node that does
 * not pack goes to a list of its columns). A key may have a group of each kind: the counts below
 * are distinct over all its lists and the sums add, as over the rows themselves. The statement
 * returned counts from those lists, not from the CSVs again. Undefined when the events are not
 * raw events and staged rollup rows alone.
 */
async function countOnceSql(db: ContentDb, table: string, input: ContentInputs, node: PackedNode): Promise<string | undefined> {
  const { fields, from } = mappedEvent('%EVENTS%');
  const rows = (events: string, keep: string) => `SELECT ${keep}, ${fields.map(([k, v]) => `${v} AS ${k}`).join(', ')} FROM ${from.replace('%EVENTS%', events)}`;
  const other = `{${fields.filter(([k]) => k !== 'us').map(([k]) => `'${k}': ${k}`).join(', ')}}`;
  const aggregates = (taskRuns: string) =>
    `${taskRuns} AS task_runs, sum(us) AS us, list(CASE WHEN ${node.packable} THEN ${node.packed} END) FILTER (WHERE ${node.packable}) AS nodes, list(CASE WHEN NOT (${node.packable}) THEN ${other} END) FILTER (WHERE NOT (${node.packable})) AS others`;
  if (!(await input.eventLists?.(LISTS, { rows, aggregates }))) return undefined;
  await keyIds(db, `(SELECT ${CONTENT_KEYS.join(', ')} FROM ${LISTS})`);
  const same = CONTENT_KEYS.map((k) => `t.${k} IS NOT DISTINCT FROM l.${k}`).join(' AND ');
  // gi: the group's (collection, role, module) triple, numbered the same on every read of `g`.
  const g = `SELECT (dense_rank() OVER (ORDER BY t.cid, t.rid, t.mid) - 1)::INTEGER AS gi, t.cid, t.rid, t.mid, l.task_runs, l.us, l.nodes, l.others FROM ${LISTS} l JOIN ${TRIPLES} t ON ${same}`;
  const [n] = await db.all<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM ${TRIPLES}`);
  return (n?.n ?? 0) <= MASK_GROUPS ? countMasksSql(table, g, node) : countListsSql(table, g, node);
}

/** `countMasksSql` gives each sheet-key triple one bit of a BIGINT (the sign bit unused): at most this many. */
const MASK_GROUPS = 63;

/**
 * Counting from the lists of the (module, role) groups `g` (gi, cid, rid, mid, task_runs, us,
 * nodes, others): every node unnested once per sheet key, its distinct counts per key.
 */
function countListsSql(table: string, g: string, node: PackedNode): string {
  const sets = 'GROUP BY GROUPING SETS ((cid), (rid), (mid))';
  return `CREATE OR REPLACE TABLE ${table} AS
     WITH g AS (${g}),
     e AS (
       SELECT cid, rid, mid, ${node.hostOf('n')} AS hid, NULL::VARCHAR AS hn, n, NULL AS o FROM (SELECT cid, rid, mid, unnest(nodes) AS n FROM g)
       UNION ALL SELECT cid, rid, mid, o.hid, o.hn, NULL, o FROM (SELECT cid, rid, mid, unnest(others) AS o FROM g)),
     c AS (SELECT COALESCE(cid, rid, mid) AS kid, count(DISTINCT hid) + count(DISTINCT hn) AS hosts, count(DISTINCT n) + count(DISTINCT o) AS nodes FROM e ${sets}),
     s AS (SELECT COALESCE(cid, rid, mid) AS kid, sum(task_runs) AS task_runs, CAST(COALESCE(sum(us), 0) AS DOUBLE) / 1e6 AS duration FROM g ${sets})
     SELECT k.sheet, k.k, c.hosts, c.nodes, s.task_runs, s.duration FROM c JOIN s USING (kid) JOIN ${KEYS} k USING (kid)`;
}

/**
 * `countListsSql` when the groups' triples are few (MASK_GROUPS): each packed node is grouped ONCE
 * (not once per sheet) with the bits of the triples it ran in, each host (with the others' known
 * hosts) once likewise, and the nodes and hosts of a key are those whose bits meet the key's
 * triples' bits: counted per distinct bit set, far fewer than the nodes. The nodes that do not pack,
 * and hosts without an id, are counted as `countListsSql` does (none pack either way, so no node is
 * counted twice; a known host is counted by its bits alone).
 */
function countMasksSql(table: string, g: string, node: PackedNode): string {
  const bit = '(1::BIGINT << gi)';
  const inKey = (from: string) => `(SELECT COALESCE(sum(c), 0) FROM ${from} WHERE ${from}.m & km.m <> 0)::BIGINT`;
  return `CREATE OR REPLACE TABLE ${table} AS
     WITH g AS (${g}),
     o AS (SELECT gi, cid, rid, mid, unnest(others) AS o FROM g),
     nm AS (SELECT n, bit_or(${bit}) AS m FROM (SELECT gi, unnest(nodes) AS n FROM g) GROUP BY n),
     nc AS (SELECT m, count(*) AS c FROM nm GROUP BY m),
     hm AS (SELECT bit_or(m) AS m FROM (SELECT ${node.hostOf('n')} AS h, m FROM nm UNION ALL SELECT o.hid, ${bit} FROM o WHERE o.hid IS NOT NULL) GROUP BY h),
     hc AS (SELECT m, count(*) AS c FROM hm GROUP BY m),
     oc AS (SELECT COALESCE(cid, rid, mid) AS kid, count(DISTINCT o.hn) AS hosts, count(DISTINCT o) AS nodes FROM o GROUP BY GROUPING SETS ((cid), (rid), (mid))),
     km AS (SELECT kid, bit_or(${bit}) AS m, sum(task_runs) AS task_runs, CAST(COALESCE(sum(us), 0) AS DOUBLE) / 1e6 AS duration
       FROM (SELECT gi, task_runs, us, unnest([cid, rid, mid]) AS kid FROM g) GROUP BY kid)
     SELECT k.sheet, k.k, ${inKey('hc')} + COALESCE(oc.hosts, 0) AS hosts, ${inKey('nc')} + COALESCE(oc.nodes, 0) AS nodes, km.task_runs, km.duration
     FROM km JOIN ${KEYS} k USING (kid) LEFT JOIN oc USING (kid)`;
}

/**
 * DuckDB's memory limit while the content statement runs. Its distinct tables grow into whatever
 * the limit allows (the report's is set for the job host summaries' job-id lists): on the bench
 * month (3M events) the process peaked at 0.92–1.05 GiB with 768MB and 0.62–0.70 GiB with this,
 * at the same CPU. A bigger month spills instead.
 */
const CONTENT_MEMORY_LIMIT_BYTES = 448 * 2 ** 20;

const UNITS: Record<string, number> = { B: 1, BYTES: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30, TIB: 2 ** 40 };

/** Per database: its own memory limit while `withMemoryLimit` left a lower one (a failed statement). */
const pendingLimit = new WeakMap<ContentDb, string>();
/** Databases whose content statement ran out of memory under the lower limit. */
const outOfMemory = new WeakSet<ContentDb>();

/**
 * Give the database back its own memory limit if a failed content statement left it lowered (a
 * statement that fails aborts the caller's transaction: nothing can run until the rollback). The
 * usage tables call it first, so a retry builds them under the report's limit.
 */
export async function restoreMemoryLimit(db: ContentDb): Promise<void> {
  const limit = pendingLimit.get(db);
  if (limit === undefined) return;
  await db.run(`SET memory_limit = '${limit}'`);
  pendingLimit.delete(db);
}

/**
 * Run `fn` (one statement) with DuckDB's memory limit lowered to `bytes` (never raised), then
 * restore it; once it ran out of memory so, a retry runs under the database's own limit.
 */
async function withMemoryLimit<T>(db: ContentDb, bytes: number, fn: () => Promise<T>): Promise<T> {
  await restoreMemoryLimit(db);
  if (outOfMemory.has(db)) return fn();
  const [row] = await db.all<{ value: string }>(`SELECT value FROM duckdb_settings() WHERE name = 'memory_limit'`);
  const limit = row?.value ?? '';
  const m = /^([\d.]+)\s*([A-Za-z]+)$/.exec(limit.trim());
  const current = m ? Number(m[1]) * (UNITS[m[2]!.toUpperCase()] ?? Number.NaN) : Number.NaN;
  // Lowering below what DuckDB holds could fail, and a failed statement aborts the transaction.
  const [held] = await db.all<{ bytes: number }>('SELECT COALESCE(sum(memory_usage_bytes), 0)::DOUBLE AS bytes FROM duckdb_memory()');
  if (!(current > bytes) || (held?.bytes ?? Number.POSITIVE_INFINITY) > bytes * 0.75) return fn();
  await db.run(`SET memory_limit = '${Math.floor(bytes / 2 ** 20)}MiB'`);
  pendingLimit.set(db, limit);
  try {
    const result = await fn();
    await restoreMemoryLimit(db);
    return result;
  } catch (err) {
    if (isOutOfMemory(err)) outOfMemory.add(db);
    throw err;
  }
}

/** A node as one integer (see `nodeInteger`). */
interface PackedNode {
  packed: string;
  packable: string;
  /** SQL: the host id of a packed node `n`. */
  hostOf: (n: string) => string;
}

/**
 * A node (host id, install id, job) as ONE 64-bit integer: host id, install id, a NULL-job flag
 * and the job, each in as few bits as the ids need (the job gets the rest). `packable` says which
 * nodes fit (known host and install, a job in range); the others are counted as they are. A
 * node fits or not whatever its events, so the two counts never share a node.
 */
async function nodeInteger(db: ContentDb, installs: readonly (string | null)[] | undefined): Promise<PackedNode> {
  const [h] = await db.all<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM ${HOSTS}`);
  const bits = (n: number) => Math.max(1, Math.ceil(Math.log2(n + 1)));
  const hostBits = bits(h?.n ?? 0);
  const installBits = bits(new Set(installs).size);
  const jobBits = 63 - hostBits - installBits - 1;
  if (jobBits < 24) return { packed: 'NULL::BIGINT', packable: 'false', hostOf: () => 'NULL::INTEGER' };
  return {
    hostOf: (n) => `(${n} >> ${63 - hostBits})::INTEGER`,
    packed: `(hid::BIGINT << ${63 - hostBits}) + (uid::BIGINT << ${jobBits + 1}) + ((j IS NULL)::BIGINT << ${jobBits}) + COALESCE(j, 0)`,
    packable: `hid IS NOT NULL AND uid IS NOT NULL AND (j IS NULL OR j BETWEEN 0 AND ${(1n << BigInt(jobBits)) - 1n})`,
  };
}

/** `contentUsage`'s sheet key ids (`KEYS`) and (collection, role, module) triples on them (`TRIPLES`), from the keys of `relation`. */
async function keyIds(db: ContentDb, relation: string): Promise<void> {
  const keys = CONTENT_KEYS.map((k) => `SELECT DISTINCT '${k}' AS sheet, ${k} AS k FROM ${relation}`).join(' UNION ALL ');
  await db.run(`CREATE OR REPLACE TEMP TABLE ${KEYS} AS SELECT sheet, k, (row_number() OVER ())::INTEGER AS kid FROM (${keys})`);
  const id = (k: string, a: string) => `JOIN ${KEYS} ${a} ON ${a}.sheet = '${k}' AND ${a}.k IS NOT DISTINCT FROM t.${k}`;
  await db.run(
    `CREATE OR REPLACE TEMP TABLE ${TRIPLES} AS SELECT t.*, c.kid AS cid, r.kid AS rid, m.kid AS mid
     FROM (SELECT DISTINCT * FROM ${relation}) t ${id('collection_name', 'c')} ${id('role_name', 'r')} ${id('module_name', 'm')}`,
  );
}

/** `contentUsage`'s install ids, host name ids and the host map on those ids. */
async function hostIds(db: ContentDb, input: ContentInputs): Promise<void> {
  const installs = [...new Set(input.installs)];
  await db.run(`CREATE OR REPLACE TEMP TABLE ${INSTALLS} (u VARCHAR, uid INTEGER)`);
  for (const [i, u] of installs.entries()) await db.run(`INSERT INTO ${INSTALLS} VALUES ($1, $2)`, [u, i]);
  await db.run(
    `CREATE OR REPLACE TEMP TABLE ${HOSTS} AS SELECT h, row_number() OVER ()::INTEGER AS hid FROM (
       SELECT h FROM ${input.hosts} WHERE h IS NOT NULL UNION SELECT original_host_name FROM ${input.hostMap} UNION SELECT host_name FROM ${input.hostMap})`,
  );
  await db.run(
    `CREATE OR REPLACE TEMP TABLE ${HOST_MAP} AS SELECT a.hid AS ohid, m.install_uuid AS u, m.job_remote_id AS j, b.hid
     FROM ${input.hostMap} m JOIN ${HOSTS} a ON a.h = m.original_host_name JOIN ${HOSTS} b ON b.h = m.host_name`,
  );
}

/**
 * `contentUsage` when an install holds `_` or is `nan`: the non-unique node is the reference's
 * text `host__install__job`, which may then join different columns.
 */
async function contentUsageByText(db: ContentDb, table: string, input: ContentInputs): Promise<void> {
  const sheet = (g: string) => CONTENT_KEYS.map((k) => `WHEN GROUPING(${k}) = 0 THEN ${g === 'name' ? `'${k}'` : k}`).join(' ');
  const sets = CONTENT_KEYS.flatMap((k) => [`(${k}, hc)`, `(${k}, h)`]).join(', ');
  await db.run(
    `CREATE OR REPLACE TABLE ${table} AS
     WITH e AS (
       SELECT h, h || '__' || COALESCE(install_uuid, 'nan') || '__' || COALESCE(job_remote_id::VARCHAR, 'nan') AS hc,
         ${CONTENT_KEYS.join(', ')}, task_runs, TRY_CAST(round(duration * 1e6) AS BIGINT) AS us FROM (
         SELECT COALESCE(m.host_name, e.host_name) AS h, e.* FROM ${await input.rows()} e LEFT JOIN ${input.hostMap} m ON m.original_host_name = e.host_name
           AND m.install_uuid IS NOT DISTINCT FROM e.install_uuid AND m.job_remote_id IS NOT DISTINCT FROM e.job_remote_id)),
     g AS (
       SELECT CASE ${sheet('name')} END AS sheet, CASE ${sheet('value')} END AS k, GROUPING(hc) = 0 AS per_node, sum(task_runs) AS tr, sum(us) AS us
       FROM e GROUP BY GROUPING SETS (${sets}))
     SELECT sheet, k, count(*) FILTER (WHERE NOT per_node) AS hosts, count(*) FILTER (WHERE per_node) AS nodes,
       sum(tr) FILTER (WHERE per_node) AS task_runs, CAST(COALESCE(sum(us) FILTER (WHERE per_node), 0) AS DOUBLE) / 1e6 AS duration
     FROM g GROUP BY sheet, k`,
  );
}
