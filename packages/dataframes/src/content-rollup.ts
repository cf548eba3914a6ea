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

const EVENTS = 'content_rollup_events';
const KEYS = 'content_rollup_keys';
const HOST_SETS = 'content_rollup_host_sets';
const SETS = 'content_rollup_sets';

/**
 * The per-node grouping needs nodes as columns: an install holding `_` or spelled `nan` makes
 * the reference's node text join columns (see content-usage.ts), whose count does not add up.
 */
async function nodesAreColumns(db: ContentDb, events: string): Promise<boolean> {
  const [r] = await db.all<{ bad: boolean }>(`SELECT bool_or(install_uuid LIKE '%\\_%' ESCAPE '\\' OR install_uuid = 'nan') AS bad FROM ${events}`);
  return !r?.bad;
}

/**
 * Write the content rollup of one period from its job host summary and main_jobevent rollups
 * (grouped rows) to `out`. Returns the rows written, or undefined (nothing written) when its
 * figures would not merge (see `nodesAreColumns`).
 */
export async function writeContentRollup(db: ContentDb, parts: { jhs: string; events: string }, out: string): Promise<number | undefined> {
  const events = `read_parquet(${literal(parts.events)})`;
  if (!(await nodesAreColumns(db, events))) return undefined;
  const names = CONTENT_KEYS.join(', ');
  try {
    // Event hosts renamed as the report renames them: by their own job's DIRECT job host summaries.
    await db.run(
      `CREATE OR REPLACE TEMP TABLE ${EVENTS} AS SELECT COALESCE(m.host_name, e.host_name) AS h, ${CONTENT_KEYS.map((k) => `e.${k}`).join(', ')},
         e.install_uuid AS u, e.job_remote_id AS j, e.task_runs, TRY_CAST(round(e.duration * 1e6) AS BIGINT) AS us
       FROM ${events} e LEFT JOIN (${usageSelects(`read_parquet(${literal(parts.jhs)})`).hostMap}) m ON m.original_host_name = e.host_name
         AND m.install_uuid IS NOT DISTINCT FROM e.install_uuid AND m.job_remote_id IS NOT DISTINCT FROM e.job_remote_id`,
    );
    const sheet = (what: 'name' | 'value') => CONTENT_KEYS.map((k) => `WHEN GROUPING(${k}) = 0 THEN ${what === 'name' ? `'${k}'` : k}`).join(' ');
    await db.run(
      `CREATE OR REPLACE TEMP TABLE ${KEYS} AS SELECT sheet, k, (row_number() OVER ())::INTEGER AS kid, nodes, task_runs, us FROM (
         SELECT CASE ${sheet('name')} END AS sheet, CASE ${sheet('value')} END AS k, count(DISTINCT (h, u, j)) AS nodes,
           sum(task_runs) AS task_runs, COALESCE(sum(us), 0) AS us
         FROM ${EVENTS} GROUP BY GROUPING SETS (${CONTENT_KEYS.map((k) => `(${k})`).join(', ')}))`,
    );
    const perKey = CONTENT_KEYS.map((k) => `SELECT h, '${k}' AS sheet, ${k} AS k FROM d`).join(' UNION ALL ');
    await db.run(
      `CREATE OR REPLACE TEMP TABLE ${HOST_SETS} AS WITH d AS (SELECT DISTINCT h, ${names} FROM ${EVENTS})
       SELECT x.h, list(DISTINCT y.kid ORDER BY y.kid) AS ks FROM (${perKey}) x JOIN ${KEYS} y ON y.sheet = x.sheet AND y.k IS NOT DISTINCT FROM x.k GROUP BY x.h`,
    );
    await db.run(`CREATE OR REPLACE TEMP TABLE ${SETS} AS SELECT ks, (row_number() OVER ())::INTEGER AS sid FROM (SELECT DISTINCT ks FROM ${HOST_SETS})`);
    const none = { kid: 'NULL::INTEGER', sheet: 'NULL::VARCHAR', k: 'NULL::VARCHAR', nodes: 'NULL::BIGINT', task_runs: 'NULL::HUGEINT', us: 'NULL::HUGEINT', sid: 'NULL::INTEGER', h: 'NULL::VARCHAR' };
    const row = (kind: number, set: Partial<typeof none>) =>
      `${kind}::TINYINT AS kind, ${Object.entries({ ...none, ...set }).map(([c, v]) => `${v} AS ${c}`).join(', ')}`;
    return await db.run(
      `COPY (SELECT ${row(0, { kid: 'kid', sheet: 'sheet', k: 'k', nodes: 'nodes', task_runs: 'task_runs', us: 'us' })} FROM ${KEYS}
         UNION ALL SELECT ${row(1, { kid: 'unnest(ks)', sid: 'sid' })} FROM ${SETS}
         UNION ALL SELECT ${row(2, { sid: 's.sid', h: 'hs.h' })} FROM ${HOST_SETS} hs JOIN ${SETS} s ON s.ks = hs.ks)
       TO ${literal(out)} (FORMAT parquet, COMPRESSION zstd)`,
    );
  } finally {
    for (const t of [EVENTS, KEYS, HOST_SETS, SETS]) await db.run(`DROP TABLE IF EXISTS ${t}`);
  }
}

const MERGED_KEYS = 'content_merge_keys';
const GLOBAL_KEYS = 'content_merge_ids';
const MERGED_SETS = 'content_merge_sets';

/**
 * `table` (`report_content`'s columns) from periods' content rollups that merge (see the module
 * comment): nodes, task runs and microseconds summed per key; unique hosts counted per key over
 * each host's keys, the OR of its periods' sets as bit strings over the keys of all periods.
 */
export async function contentFromRollups(db: ContentDb, files: readonly string[], table: string): Promise<void> {
  const read = (kind: number, cols: string) => `(SELECT ${cols} FROM read_parquet([${files.map(literal).join(', ')}], filename = true) WHERE kind = ${kind})`;
  try {
    await db.run(`CREATE OR REPLACE TEMP TABLE ${MERGED_KEYS} AS ${read(0, 'filename AS f, kid, sheet, k, nodes, task_runs, us')}`);
    await db.run(`CREATE OR REPLACE TEMP TABLE ${GLOBAL_KEYS} AS SELECT sheet, k, (row_number() OVER () - 1)::INTEGER AS gid FROM (SELECT DISTINCT sheet, k FROM ${MERGED_KEYS})`);
    const [g] = await db.all<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM ${GLOBAL_KEYS}`);
    const bits = Math.max(1, g?.n ?? 0);
    const sameKey = (a: string, b: string) => `${a}.sheet = ${b}.sheet AND ${a}.k IS NOT DISTINCT FROM ${b}.k`;
    await db.run(
      `CREATE OR REPLACE TEMP TABLE ${MERGED_SETS} AS SELECT s.f, s.sid, bitstring_agg(g.gid, 0, ${bits - 1}) AS m
       FROM ${read(1, 'filename AS f, sid, kid')} s JOIN ${MERGED_KEYS} y ON y.f = s.f AND y.kid = s.kid JOIN ${GLOBAL_KEYS} g ON ${sameKey('g', 'y')}
       GROUP BY s.f, s.sid`,
    );
    // Hosts with the same keys are counted together: a month's hosts share a few distinct key sets.
    await db.run(
      `CREATE OR REPLACE TABLE ${table} AS
       WITH hm AS (SELECT h.h, bit_or(s.m) AS m FROM ${read(2, 'filename AS f, sid, h')} h JOIN ${MERGED_SETS} s ON s.f = h.f AND s.sid = h.sid GROUP BY h.h),
       cm AS (SELECT m, count(*) AS n FROM hm GROUP BY m),
       hosts AS (SELECT g.gid, sum(cm.n) AS hosts FROM cm JOIN ${GLOBAL_KEYS} g ON get_bit(cm.m, g.gid) = 1 GROUP BY g.gid),
       tot AS (SELECT sheet, k, sum(nodes) AS nodes, sum(task_runs) AS task_runs, sum(us) AS us FROM ${MERGED_KEYS} GROUP BY sheet, k)
       SELECT g.sheet, g.k, COALESCE(hosts.hosts, 0)::BIGINT AS hosts, t.nodes::BIGINT AS nodes, t.task_runs::HUGEINT AS task_runs,
         CAST(COALESCE(t.us, 0) AS DOUBLE) / 1e6 AS duration
       FROM ${GLOBAL_KEYS} g JOIN tot t ON ${sameKey('t', 'g')} LEFT JOIN hosts ON hosts.gid = g.gid`,
    );
  } finally {
    for (const t of [MERGED_KEYS, GLOBAL_KEYS, MERGED_SETS]) await db.run(`DROP TABLE IF EXISTS ${t}`);
  }
}
