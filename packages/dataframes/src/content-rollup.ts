/**
 * Content rollups: a period's content-usage figures (`report_content`, see content-usage.ts)
 * stored beside its usage rollup, so that a month with job events merges its days without
 * reading their job-grain events.
 *
 * They merge exactly under the usage rollups' rule (no job in two periods; the usage jobs files
 * also list the jobs of the events, see `writeUsageRollup`): every event, every node (host,
 * install, job) and every host rename (the job host summaries of the event's own job) then lies
 * in one period, so per sheet key the non-unique nodes, task runs and whole microseconds add up.
 * Unique hosts do not: each period stores, per host, which SET of keys it ran (an id among the
 * period's few distinct sets), and the merge ORs each host's sets over the periods.
 *
 * One Parquet file of three kinds of rows: `kind` 0, a key (`kid`, `sheet`, `k`, `nodes`,
 * `task_runs`, `us`); 1, a member `kid` of the set `sid`; 2, a host `h` and its set `sid`.
 */
import { CONTENT_KEYS } from './content-usage.js';
import { literal, type TallyDuckDb } from './duckdb.js';
import { usageSelects } from './usage.js';

type ContentDb = Pick<TallyDuckDb, 'all' | 'run'>;

/** `rollups/usage_content/period={period}/date={date}/part-0.parquet` (beside the usage rollups). */
export function contentRollupName(period: string, date: string, prefix = 'rollups'): string {
  return `${prefix}/usage_content/period=${period}/date=${date}/part-0.parquet`;
}

const TRIPLES = 'content_rollup_triples';
const KEYS = 'content_rollup_keys';
const NODES = 'content_rollup_nodes';
const HOST_SETS = 'content_rollup_host_sets';

/**
 * The per-node grouping needs nodes as columns: an install holding `_` or spelled `nan` makes
 * the reference's node text join columns (see content-usage.ts), whose count does not add up.
 */
async function nodesAreColumns(db: ContentDb, events: string): Promise<boolean> {
  const [r] = await db.all<{ bad: boolean }>(`SELECT bool_or(install_uuid LIKE '%\\_%' ESCAPE '\\' OR install_uuid = 'nan') AS bad FROM ${events}`);
  return !r?.bad;
}

const NONE = { kid: 'NULL::INTEGER', sheet: 'NULL::VARCHAR', k: 'NULL::VARCHAR', nodes: 'NULL::BIGINT', task_runs: 'NULL::HUGEINT', us: 'NULL::HUGEINT', sid: 'NULL::INTEGER', h: 'NULL::VARCHAR' };
/** The select list of a content rollup row of `kind` (see the module comment), the columns of `set` given, the others NULL. */
const row = (kind: number, set: Partial<typeof NONE>) => `${kind}::TINYINT AS kind, ${Object.entries({ ...NONE, ...set }).map(([c, v]) => `${v} AS ${c}`).join(', ')}`;

const sameKeys = (a: string, b: string) => CONTENT_KEYS.map((k) => `${a}.${k} IS NOT DISTINCT FROM ${b}.${k}`).join(' AND ');
/** A key row `y` of `KEYS` that is one of the keys of the (collection, role, module) row `t`. */
const keyOf = (y: string, t: string) => CONTENT_KEYS.map((k) => `(${y}.sheet = '${k}' AND ${y}.k IS NOT DISTINCT FROM ${t}.${k})`).join(' OR ');

/**
 * Write the content rollup of one period from its job host summary and main_jobevent rollups
 * (grouped rows) to `out`. Returns the rows written, or undefined (nothing written) when its
 * figures would not merge (see `nodesAreColumns`).
 *
 * Counting distinct (key, node) pairs per sheet is what costs; instead each node (host, install,
 * job) is grouped ONCE with the bit string of the keys its events ran (the OR of its (collection,
 * role, module) triples' bits, from the few distinct triples): a key's nodes are those whose bits
 * hold it, counted per distinct bit string; a host's key set is the OR of its nodes' bits.
 */
export async function writeContentRollup(db: ContentDb, parts: { jhs: string; events: string }, out: string): Promise<number | undefined> {
  const events = `read_parquet(${literal(parts.events)})`;
  if (!(await nodesAreColumns(db, events))) return undefined;
  const names = CONTENT_KEYS.join(', ');
  try {
    await db.run(
      `CREATE OR REPLACE TEMP TABLE ${TRIPLES} AS SELECT ${names}, sum(task_runs) AS task_runs, COALESCE(sum(TRY_CAST(round(duration * 1e6) AS BIGINT)), 0) AS us
       FROM ${events} GROUP BY ALL`,
    );
    const distinctKeys = CONTENT_KEYS.map((k) => `SELECT DISTINCT '${k}' AS sheet, ${k} AS k FROM ${TRIPLES}`).join(' UNION ALL ');
    await db.run(`CREATE OR REPLACE TEMP TABLE ${KEYS} AS SELECT sheet, k, (row_number() OVER () - 1)::INTEGER AS kid FROM (${distinctKeys})`);
    const [n] = await db.all<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM ${KEYS}`);
    const last = Math.max(0, (n?.n ?? 0) - 1);
    // Event hosts renamed as the report renames them: by their own job's DIRECT job host summaries.
    // The part is read as it is, not through `parquetRelation`: the host map reads only the index
    // columns and managed_node_type, which every job_host_summary part holds (none is derived).
    await db.run(
      `CREATE OR REPLACE TEMP TABLE ${NODES} AS
       WITH tm AS (SELECT t.${CONTENT_KEYS.join(', t.')}, bitstring_agg(y.kid, 0, ${last}) AS m FROM ${TRIPLES} t JOIN ${KEYS} y ON ${keyOf('y', 't')} GROUP BY ALL)
       SELECT COALESCE(mp.host_name, e.host_name) AS h, e.install_uuid AS u, e.job_remote_id AS j, bit_or(tm.m) AS m
       FROM ${events} e JOIN tm ON ${sameKeys('tm', 'e')}
       LEFT JOIN (${usageSelects(`read_parquet(${literal(parts.jhs)})`).hostMap}) mp ON mp.original_host_name = e.host_name
         AND mp.install_uuid IS NOT DISTINCT FROM e.install_uuid AND mp.job_remote_id IS NOT DISTINCT FROM e.job_remote_id
       GROUP BY ALL`,
    );
    await db.run(`CREATE OR REPLACE TEMP TABLE ${HOST_SETS} AS SELECT h, bit_or(m) AS m FROM ${NODES} GROUP BY h`);
    return await db.run(
      `COPY (
         WITH cm AS (SELECT m, count(*) AS n FROM ${NODES} GROUP BY m),
         sets AS (SELECT m, (row_number() OVER ())::INTEGER AS sid FROM (SELECT DISTINCT m FROM ${HOST_SETS})),
         sums AS (SELECT y.kid, sum(t.task_runs) AS task_runs, sum(t.us) AS us FROM ${TRIPLES} t JOIN ${KEYS} y ON ${keyOf('y', 't')} GROUP BY y.kid),
         nodes AS (SELECT y.kid, sum(cm.n) AS nodes FROM cm JOIN ${KEYS} y ON get_bit(cm.m, y.kid) = 1 GROUP BY y.kid)
         SELECT ${row(0, { kid: 'y.kid', sheet: 'y.sheet', k: 'y.k', nodes: 'nodes.nodes', task_runs: 's.task_runs', us: 's.us' })}
           FROM ${KEYS} y JOIN sums s ON s.kid = y.kid JOIN nodes ON nodes.kid = y.kid
         UNION ALL SELECT ${row(1, { kid: 'y.kid', sid: 'sets.sid' })} FROM sets JOIN ${KEYS} y ON get_bit(sets.m, y.kid) = 1
         UNION ALL SELECT ${row(2, { sid: 'sets.sid', h: 'hs.h' })} FROM ${HOST_SETS} hs JOIN sets ON sets.m = hs.m)
       TO ${literal(out)} (FORMAT parquet, COMPRESSION zstd)`,
    );
  } finally {
    for (const t of [TRIPLES, KEYS, NODES, HOST_SETS]) await db.run(`DROP TABLE IF EXISTS ${t}`);
  }
}

const MERGED_KEYS = 'content_merge_keys';
const GLOBAL_KEYS = 'content_merge_ids';
const MERGED_SETS = 'content_merge_sets';

/** Each host's key set over the periods (bit strings over `GLOBAL_KEYS`' ids), as `(h, m)` rows. */
const READ = (files: readonly string[]) => (kind: number, cols: string) =>
  `(SELECT ${cols} FROM read_parquet([${files.map(literal).join(', ')}], filename = true) WHERE kind = ${kind})`;
const HOST_KEYS = (files: readonly string[]) =>
  `SELECT h.h, bit_or(s.m) AS m FROM ${READ(files)(2, 'filename AS f, sid, h')} h JOIN ${MERGED_SETS} s ON s.f = h.f AND s.sid = h.sid GROUP BY h.h`;
const SAME_KEY = (a: string, b: string) => `${a}.sheet = ${b}.sheet AND ${a}.k IS NOT DISTINCT FROM ${b}.k`;
/** A `report_content` row: key `key`'s sheet and text, its figures from `totals`, its unique hosts from `hosts`. */
const CONTENT_ROW = (key: string, totals: string) =>
  `${key}.sheet, ${key}.k, COALESCE(hosts.hosts, 0)::BIGINT AS hosts, ${totals}.nodes::BIGINT AS nodes, ${totals}.task_runs::HUGEINT AS task_runs,
   CAST(COALESCE(${totals}.us, 0) AS DOUBLE) / 1e6 AS duration`;
const KEY_TOTALS = `SELECT sheet, k, sum(nodes) AS nodes, sum(task_runs) AS task_runs, sum(us) AS us FROM ${MERGED_KEYS} GROUP BY sheet, k`;

/**
 * `statement` run over periods' content rollups that merge (see the module comment) loaded into
 * `MERGED_KEYS` (each period's key rows), `GLOBAL_KEYS` (one id `gid` per distinct key) and
 * `MERGED_SETS` (each period's key sets as bit strings over those ids).
 */
async function overMergedKeys(db: ContentDb, files: readonly string[], statement: string): Promise<number> {
  const read = READ(files);
  try {
    await db.run(`CREATE OR REPLACE TEMP TABLE ${MERGED_KEYS} AS ${read(0, 'filename AS f, kid, sheet, k, nodes, task_runs, us')}`);
    await db.run(`CREATE OR REPLACE TEMP TABLE ${GLOBAL_KEYS} AS SELECT sheet, k, (row_number() OVER () - 1)::INTEGER AS gid FROM (SELECT DISTINCT sheet, k FROM ${MERGED_KEYS})`);
    const [g] = await db.all<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM ${GLOBAL_KEYS}`);
    const bits = Math.max(1, g?.n ?? 0);
    await db.run(
      `CREATE OR REPLACE TEMP TABLE ${MERGED_SETS} AS SELECT s.f, s.sid, bitstring_agg(g.gid, 0, ${bits - 1}) AS m
       FROM ${read(1, 'filename AS f, sid, kid')} s JOIN ${MERGED_KEYS} y ON y.f = s.f AND y.kid = s.kid JOIN ${GLOBAL_KEYS} g ON ${SAME_KEY('g', 'y')}
       GROUP BY s.f, s.sid`,
    );
    return await db.run(statement);
  } finally {
    for (const t of [MERGED_KEYS, GLOBAL_KEYS, MERGED_SETS]) await db.run(`DROP TABLE IF EXISTS ${t}`);
  }
}

/**
 * `table` (`report_content`'s columns) from periods' content rollups that merge (see the module
 * comment): nodes, task runs and microseconds summed per key; unique hosts counted per key over
 * each host's keys, the OR of its periods' sets as bit strings over the keys of all periods.
 */
export async function contentFromRollups(db: ContentDb, files: readonly string[], table: string): Promise<void> {
  if (files.length === 1) return void (await db.run(`CREATE OR REPLACE TABLE ${table} AS ${oneRollupContent(files[0]!)}`));
  // Hosts with the same keys are counted together: a month's hosts share a few distinct key sets.
  await overMergedKeys(
    db,
    files,
    `CREATE OR REPLACE TABLE ${table} AS
     WITH hm AS (${HOST_KEYS(files)}),
     cm AS (SELECT m, count(*) AS n FROM hm GROUP BY m),
     hosts AS (SELECT g.gid, sum(cm.n) AS hosts FROM cm JOIN ${GLOBAL_KEYS} g ON get_bit(cm.m, g.gid) = 1 GROUP BY g.gid),
     tot AS (${KEY_TOTALS})
     SELECT ${CONTENT_ROW('g', 't')}
     FROM ${GLOBAL_KEYS} g JOIN tot t ON ${SAME_KEY('t', 'g')} LEFT JOIN hosts ON hosts.gid = g.gid`,
  );
}

/**
 * `contentFromRollups` of one content rollup (a month-to-date merge, a day's): its keys and
 * figures as they are, and each key's unique hosts those of the sets holding it (a rollup lists a
 * host once, with its one set). One statement instead of the merge's four (20–60 ms).
 */
function oneRollupContent(file: string): string {
  const read = READ([file]);
  return `WITH sn AS (SELECT sid, count(*) AS n FROM ${read(2, 'sid')} GROUP BY sid),
     hosts AS (SELECT s.kid, sum(sn.n) AS hosts FROM ${read(1, 'kid, sid')} s JOIN sn ON sn.sid = s.sid GROUP BY s.kid)
     SELECT ${CONTENT_ROW('y', 'y')}
     FROM ${read(0, 'kid, sheet, k, nodes, task_runs, us')} y LEFT JOIN hosts ON hosts.kid = y.kid`;
}

/**
 * Periods' content rollups that merge, merged into one content rollup (`out`, the same rows as a
 * period's: keys with their summed figures, each host with the OR of its sets) that merges on with
 * later periods' as theirs do. Returns the rows written.
 */
export async function mergeContentRollups(db: ContentDb, files: readonly string[], out: string): Promise<number> {
  return await overMergedKeys(
    db,
    files,
    `COPY (
       WITH hm AS (${HOST_KEYS(files)}),
       sets AS (SELECT m, (row_number() OVER ())::INTEGER AS sid FROM (SELECT DISTINCT m FROM hm)),
       tot AS (${KEY_TOTALS})
       SELECT ${row(0, { kid: 'g.gid', sheet: 'g.sheet', k: 'g.k', nodes: 't.nodes::BIGINT', task_runs: 't.task_runs::HUGEINT', us: 't.us::HUGEINT' })}
         FROM ${GLOBAL_KEYS} g JOIN tot t ON ${SAME_KEY('t', 'g')}
       UNION ALL SELECT ${row(1, { kid: 'g.gid', sid: 'sets.sid' })} FROM sets JOIN ${GLOBAL_KEYS} g ON get_bit(sets.m, g.gid) = 1
       UNION ALL SELECT ${row(2, { sid: 'sets.sid', h: 'hm.h' })} FROM hm JOIN sets ON sets.m = hm.m)
     TO ${literal(out)} (FORMAT parquet, COMPRESSION zstd)`,
  );
}
