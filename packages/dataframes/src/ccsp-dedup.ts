/**
 * METRICS_UTILITY_DEDUPLICATOR=ccsp-experimental: metrics-utility's `DedupCCSP(experimental=True)`
 * over the report's dataframes. Hosts whose main_host canonical facts share a serial
 * (`{ansible_product_serial}/{ansible_machine_id}`) are renamed to the first of them
 * (`MainHost.hostNameMapping`); rows that then share an index merge.
 *
 * The events and main_host (small once grouped) are regrouped here. The job host summaries (a
 * month is millions of rows) are never grouped for it: their consumers rename hosts as they read
 * them (`usageTables` and `groupIndirectInto` take the mapping), which gives the same counts as
 * regrouping, and `dedupHostsInto` derives what the sheets' dedup columns show.
 */
import { writeHostNameMap } from './dataframe.js';
import { ident, literal } from './duckdb.js';
import { DIRECT, type JobHostSummary } from './job-host-summary.js';
import type { MainHost } from './main-host.js';
import type { MainJobevent } from './main-jobevent.js';
import { PAIRS_TYPE, unionLists } from './sql.js';

export interface CcspDedupFrames {
  mainHost: MainHost;
  /** Absent when the report reads no events. */
  events?: MainJobevent | undefined;
}

export interface CcspDedup {
  /** Host name → canonical host name (hosts mapped onto themselves left out); empty when not applied. */
  mapping: Map<string, string>;
  /**
   * Was the dedup applied (main_host had a serial)? The reference changes nothing otherwise, not
   * even the DIRECT rows' facts.
   */
  applied: boolean;
}

/**
 * Compute the mapping, keep main_host's canonical facts and facts per host name as they were
 * before the dedup in a new table `factsTable` (host_name, cf, f; what DIRECT job host summaries
 * take), then rename and regroup main_host and the events.
 */
export async function dedupCcspExperimental(frames: CcspDedupFrames, factsTable: string): Promise<CcspDedup> {
  const { mainHost, events } = frames;
  await mainHost.group();
  const db = mainHost.db;
  const [s] = await db.all<{ n: bigint }>(`SELECT count(*) AS n FROM ${ident(mainHost.table)} WHERE len(serials) > 0`);
  if (Number(s?.n ?? 0) === 0) return { mapping: new Map(), applied: false };
  const mapping = await mainHost.hostNameMapping();
  // A host name listed under several installs gets the facts of all (the reference fails on such a name).
  await db.run(
    `CREATE OR REPLACE TABLE ${ident(factsTable)} AS SELECT host_name, ${unionLists('canonical_facts')} AS cf, ${unionLists('facts')} AS f
     FROM ${ident(mainHost.table)} WHERE host_name IS NOT NULL GROUP BY host_name`,
  );
  if (events) await events.regroup({ hostNameMapping: mapping });
  await mainHost.regroup({ hostNameMapping: mapping });
  return { mapping, applied: true };
}

/**
 * `rel` (a relation with `column`) with `column` renamed through the map table `map` (from
 * `writeHostNameMap`) and its former value kept as `pre_host_name`.
 */
export function renamedHosts(rel: string, map: string, column = 'host_name'): string {
  const c = ident(column);
  return `(SELECT r.* REPLACE (COALESCE(m.to_name, r.${c}) AS ${c}), r.${c} AS pre_host_name FROM ${rel} r LEFT JOIN ${ident(map)} m ON m.from_name = r.${c})`;
}

/**
 * Write a table `name` of the DIRECT job host summaries per (organization_name, host_name) after
 * renaming through `mapping`: `names`, the host names before dedup, and with `facts` (a table
 * of `dedupCcspExperimental`) the canonical facts `cf` and facts `f` main_host gave those names
 * (the reference fills each DIRECT row from main_host by its name before renaming); without it
 * they are empty, as the reference leaves DIRECT rows when the dedup did not apply. Keeps only
 * `organizations` when given (METRICS_UTILITY_ORGANIZATION_FILTER).
 */
export async function dedupHostsInto(
  jhs: JobHostSummary,
  name: string,
  opts: { mapping: ReadonlyMap<string, string>; facts?: string | undefined; organizations?: readonly string[] | undefined },
): Promise<void> {
  const db = jhs.db;
  const map = await writeHostNameMap(db, `${name}_map`, opts.mapping);
  const inOrgs = opts.organizations?.length ? ` AND organization_name IN (${opts.organizations.map(literal).join(', ')})` : '';
  const prepared = await jhs.preparedRelation();
  // Prepared rows name one host each; grouped rows (rollups) carry their names already.
  let rows = `SELECT organization_name, host_name FROM ${prepared} WHERE managed_node_type = ${DIRECT}${inOrgs}`;
  if (!prepared) {
    await jhs.group();
    rows = `SELECT organization_name, unnest(host_names_before_dedup) AS host_name FROM ${ident(jhs.table)} WHERE managed_node_type = ${DIRECT}${inOrgs}`;
  }
  const pairs = renamedHosts(`(SELECT DISTINCT * FROM (${rows}))`, map);
  const facts = opts.facts
    ? `LEFT JOIN ${ident(opts.facts)} x ON x.host_name = p.pre_host_name`
    : `LEFT JOIN (SELECT NULL::VARCHAR AS host_name, []::${PAIRS_TYPE} AS cf, []::${PAIRS_TYPE} AS f WHERE false) x ON false`;
  await db.run(
    `CREATE OR REPLACE TABLE ${ident(name)} AS SELECT p.organization_name, p.host_name,
       CAST(list_sort(list_distinct(list(p.pre_host_name) FILTER (WHERE p.pre_host_name IS NOT NULL))) AS VARCHAR[]) AS names,
       CAST(COALESCE(${unionLists('x.cf')}, []) AS ${PAIRS_TYPE}) AS cf, CAST(COALESCE(${unionLists('x.f')}, []) AS ${PAIRS_TYPE}) AS f
     FROM ${pairs} p ${facts} GROUP BY p.organization_name, p.host_name`,
  );
  await db.run(`DROP TABLE ${ident(map)}`);
}
