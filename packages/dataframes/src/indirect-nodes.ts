/**
 * Indirectly managed nodes: the INDIRECT rows of job host summaries (from
 * main_indirectmanagednodeaudit.csv), as the newest reference's sheets read them. A grouped row
 * counts as INDIRECT only when no DIRECT row shares its index (the rollup keeps the smaller type).
 */
import { renamedHosts } from './ccsp-dedup.js';
import { writeHostNameMap } from './dataframe.js';
import { ident, literal } from './duckdb.js';
import { DIRECT, INDIRECT, type JobHostSummary } from './job-host-summary.js';
import { type FactValue, factValue } from './fact-value.js';
import { collectionOf } from './main-jobevent.js';
import { PAIRS_TYPE, unionLists } from './sql.js';
import type { FactPair } from './types.js';

/** Columns of the table `groupIndirectInto` writes after the index columns (one row per grouped INDIRECT index). */
const INDIRECT_DATA = ['task_runs', 'first_automation', 'last_automation', 'job_created', 'canonical_facts', 'facts', 'events', 'host_names_before_dedup'] as const;

/** What the sheet queries need of a database: rows of a SELECT (a TallyDuckDb, or a report's handle on one). */
export interface RowSource {
  all(sql: string): Promise<Record<string, unknown>[]>;
}


/**
 * Write the grouped INDIRECT-only rows of `jhs` into a new table `name` (replaced if it exists),
 * keeping only `organizations` when given (METRICS_UTILITY_ORGANIZATION_FILTER), hosts renamed
 * through `hostNameMapping` (ccsp-experimental; `host_names_before_dedup` keeps the former names).
 * Reads the prepared rows (before the dataframe is grouped; consumes nothing), else the grouped
 * table (whose rows are renamed, not merged: a report under ccsp-experimental reads tarballs, so
 * prepared rows). The DIRECT rows are read only when INDIRECT ones exist. Returns the rows written.
 */
export async function groupIndirectInto(
  jhs: JobHostSummary,
  name: string,
  opts: { organizations?: readonly string[] | undefined; hostNameMapping?: ReadonlyMap<string, string> | undefined } = {},
): Promise<number> {
  const db = jhs.db;
  const map = opts.hostNameMapping?.size ? await writeHostNameMap(db, `${name}_map`, opts.hostNameMapping) : undefined;
  try {
    return await groupIndirect(jhs, name, inOrgsOf(opts.organizations), map);
  } finally {
    if (map) await db.run(`DROP TABLE ${ident(map)}`);
  }
}

const inOrgsOf = (orgs: readonly string[] | undefined) => (orgs?.length ? ` AND organization_name IN (${orgs.map(literal).join(', ')})` : '');

async function groupIndirect(jhs: JobHostSummary, name: string, inOrgs: string, map: string | undefined): Promise<number> {
  const db = jhs.db;
  const index = jhs.indexColumns;
  const prepared = await jhs.preparedRelation();
  const target = ident(name);
  const rowsIn = async () => Number((await db.all<{ n: bigint }>(`SELECT count(*) AS n FROM ${target}`))[0]?.n ?? 0);
  if (prepared === undefined) {
    // Staged rollups (a report's fast path) are grouped only when some row may be INDIRECT.
    const pending = await jhs.pendingRows();
    if (pending?.parquet) {
      const types = [...(pending.hasPrepared ? [pending.prepared] : []), pending.parquet]
        .map((rel) => `SELECT managed_node_type, organization_name FROM ${rel}`)
        .join(' UNION ALL ');
      const [k] = await db.all<{ n: bigint }>(`SELECT count(*) AS n FROM (${types}) WHERE managed_node_type <> ${DIRECT}${inOrgs}`);
      if (Number(k?.n ?? 0) === 0) {
        await db.run(`CREATE OR REPLACE TABLE ${target} AS SELECT ${[...index, ...INDIRECT_DATA].join(', ')} FROM ${ident(jhs.table)} WHERE false`);
        return 0;
      }
    }
    await jhs.group();
    const rows = `(SELECT * FROM ${ident(jhs.table)} WHERE managed_node_type = ${INDIRECT}${inOrgs})`;
    await db.run(`CREATE OR REPLACE TABLE ${target} AS SELECT ${[...index, ...INDIRECT_DATA].join(', ')} FROM ${map ? renamedHosts(rows, map) : rows}`);
    return rowsIn();
  }
  // The type is a constant of each CSV scan: this filter never reads the job_host_summary CSVs.
  const indirect = `(SELECT * FROM ${prepared} WHERE managed_node_type <> ${DIRECT}${inOrgs})`;
  const [n] = await db.all<{ n: bigint }>(`SELECT count(*) AS n FROM ${indirect}`);
  const same = index.map((c) => `d.${c} IS NOT DISTINCT FROM i.${c}`).join(' AND ');
  const direct =
    Number(n?.n ?? 0) === 0
      ? `(SELECT ${index.join(', ')} FROM ${indirect} WHERE false)`
      : `(SELECT DISTINCT ${index.join(', ')} FROM ${prepared} WHERE managed_node_type = ${DIRECT}
          AND host_name IN (SELECT host_name FROM ${indirect}))`;
  const kept = `(SELECT i.* FROM ${indirect} i WHERE NOT EXISTS (SELECT 1 FROM ${direct} d WHERE ${same}))`;
  const rows = map ? renamedHosts(kept, map) : `(SELECT *, host_name AS pre_host_name FROM ${kept})`;
  await db.run(
    `CREATE OR REPLACE TABLE ${target} AS SELECT ${index.join(', ')},
       CAST(sum(task_runs) AS BIGINT) AS task_runs, min(created) AS first_automation, max(created) AS last_automation,
       max(job_created) AS job_created, CAST(${unionLists('canonical_facts')} AS ${PAIRS_TYPE}) AS canonical_facts,
       CAST(${unionLists('facts')} AS ${PAIRS_TYPE}) AS facts, CAST(${unionLists('events')} AS VARCHAR[]) AS events,
       CAST(list_sort(list_distinct(list(pre_host_name))) AS VARCHAR[]) AS host_names_before_dedup
     FROM ${rows} GROUP BY ${index.join(', ')}`,
  );
  return rowsIn();
}

/** One row of the "Indirectly Managed nodes" sheet (the reference's usage-by-node for indirect rows). */
export interface IndirectNode {
  hostName: string | null;
  organizations: number;
  jobRuns: number;
  taskRuns: number;
  firstAutomation: Date | null;
  lastAutomation: Date | null;
  /** `firstAutomation` and `lastAutomation` as epoch microseconds (the Dates are cut to milliseconds). */
  firstAutomationUs: number | null;
  lastAutomationUs: number | null;
  canonicalFacts: FactPair[];
  facts: FactPair[];
  types: string[];
  events: string[];
}

const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));
const date = (v: unknown) => (v instanceof Date ? v : null);
const micros = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/**
 * The INDIRECT rows of `table` (written by `groupIndirectInto`) per host name, sorted, a NULL
 * host last: organizations, job runs (grouped rows), task runs, first and last automation,
 * facts merged per key, the node types and the events.
 */
export async function indirectNodes(db: RowSource, table: string): Promise<IndirectNode[]> {
  const rows = await db.all(
    `SELECT host_name, count(DISTINCT organization_name) AS orgs, count(host_name) AS runs, sum(task_runs) AS tr,
       min(first_automation) AS f, max(last_automation) AS l, epoch_us(min(first_automation)) AS fu, epoch_us(max(last_automation)) AS lu, ${unionLists('canonical_facts')} AS cf, ${unionLists('facts')} AS facts,
       ${unionLists('events')} AS events
     FROM ${ident(table)} GROUP BY host_name ORDER BY host_name NULLS LAST`,
  );
  return rows.map((r) => ({
    hostName: (r.host_name as string | null) ?? null,
    organizations: num(r.orgs),
    jobRuns: num(r.runs),
    taskRuns: num(r.tr),
    firstAutomation: date(r.f),
    lastAutomation: date(r.l),
    firstAutomationUs: micros(r.fu),
    lastAutomationUs: micros(r.lu),
    canonicalFacts: (r.cf as FactPair[] | null) ?? [],
    facts: (r.facts as FactPair[] | null) ?? [],
    types: ['INDIRECT'],
    events: (r.events as string[] | null) ?? [],
  }));
}

/** One device row of the "Infrastructure Summary" sheet (a fact's value keeps its type: `4` stays a number). */
export interface InfrastructureRow {
  infraType: FactValue;
  infraBucket: FactValue;
  deviceType: FactValue;
  uniqueNodes: number;
  totalNodes: number;
}

/**
 * A fact pair's value as a sort key: numbers and booleans (rank 0, by value, as Python compares
 * them) before texts (rank 1, by code point; the reference's sort fails on the mix), and its text.
 */
const factKey = (p: string) =>
  `{'r': CAST(starts_with(${p}.value, '"') AS INTEGER), ` +
  `'n': CASE ${p}.value WHEN 'true' THEN 1.0 WHEN 'false' THEN 0.0 ELSE TRY_CAST(${p}.value AS DOUBLE) END, ` +
  `'s': CASE WHEN starts_with(${p}.value, '"') THEN json_extract_string(${p}.value, '$') END, 'v': ${p}.value}`;
const UNKNOWN = `{'r': 1, 'n': NULL::DOUBLE, 's': 'Unknown', 'v': '"Unknown"'}`;

/**
 * Grouped INDIRECT rows of `table` by the `infra_type`, `infra_bucket` and `device_type` of
 * their facts (a key's smallest value when it has several: the reference takes an arbitrary
 * one; `Unknown` when absent), sorted on the three: distinct hosts and rows. Values Python holds
 * equal (`1`, `1.0`, `true`) make one group, shown as the smallest of their JSON texts.
 */
export async function infrastructureSummary(db: RowSource, table: string): Promise<InfrastructureRow[]> {
  const fact = (key: string) => `COALESCE(list_min(list_transform(list_filter(facts, p -> p.key = ${literal(key)}), p -> ${factKey('p')})), ${UNKNOWN})`;
  const key = (...cols: string[]) => cols.flatMap((k) => [`${k}.r`, `${k}.n`, `${k}.s`]).join(', ');
  // A type's (and a type and bucket's) label is the same on all its rows: the sheet heads a new one when it changes.
  const rows = await db.all(
    `SELECT min(min(t.v)) OVER (PARTITION BY ${key('t')}) AS t, min(min(b.v)) OVER (PARTITION BY ${key('t', 'b')}) AS b,
       min(d.v) AS d, count(DISTINCT host_name) AS u, count(host_name) AS n FROM (
       SELECT ${fact('infra_type')} AS t, ${fact('infra_bucket')} AS b, ${fact('device_type')} AS d, host_name FROM ${ident(table)})
     GROUP BY ${key('t', 'b', 'd')} ORDER BY ${key('t', 'b', 'd')}`,
  );
  return rows.map((r) => ({
    infraType: factValue(String(r.t)),
    infraBucket: factValue(String(r.b)),
    deviceType: factValue(String(r.d)),
    uniqueNodes: num(r.u),
    totalNodes: num(r.n),
  }));
}

/**
 * SELECT of the content-usage rows the INDIRECT rows of `table` add to "Usage by collections":
 * one row per distinct collection of a row's events (`ns.coll`; other events dropped) with the
 * row's host, `host__install__job` composite id, all its task runs and duration 0 (the audit has
 * no per-collection counts). Columns: collection_name, host_name, host_composite_id, task_runs,
 * duration, and `rid` (the source row, which keeps two equal rows apart).
 */
export function indirectCollectionsSql(table: string): string {
  return (
    `SELECT DISTINCT c AS collection_name, host_name, host_name || '__' || COALESCE(install_uuid, 'nan') || '__' || ` +
    `COALESCE(CAST(job_remote_id AS VARCHAR), 'nan') AS host_composite_id, task_runs, 0.0::DOUBLE AS duration, rid FROM (` +
    `SELECT ${collectionOf('e')} AS c, host_name, install_uuid, job_remote_id, task_runs, rid FROM (` +
    `SELECT unnest(events) AS e, host_name, install_uuid, job_remote_id, task_runs, rid FROM (` +
    `SELECT *, row_number() OVER () AS rid FROM ${ident(table)}))) ` +
    `WHERE c IS NOT NULL`
  );
}
