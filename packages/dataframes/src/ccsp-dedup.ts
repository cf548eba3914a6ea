/**
 * METRICS_UTILITY_DEDUPLICATOR=ccsp-experimental: metrics-utility's `DedupCCSP(experimental=True)`
 * over the report's dataframes. Hosts whose main_host canonical facts share a serial
 * (`{ansible_product_serial}/{ansible_machine_id}`) are renamed to the first of them
 * (`MainHost.hostNameMapping`) in the job host summaries, the events and main_host, and rows that
 * then share an index merge. Each row keeps the names it had in `host_names_before_dedup`.
 */
import { ident, literal } from './duckdb.js';
import { DIRECT, type JobHostSummary } from './job-host-summary.js';
import type { MainHost } from './main-host.js';
import type { MainJobevent } from './main-jobevent.js';
import { PAIRS_TYPE, unionLists } from './sql.js';

export interface CcspDedupFrames {
  jobHostSummary: JobHostSummary;
  mainHost: MainHost;
  /** Absent when the report reads no events. */
  events?: MainJobevent | undefined;
}

export interface CcspDedupResult {
  /** Hosts renamed (their canonical name excluded). */
  renamed: number;
  /** Was the dedup applied (main_host had a serial)? */
  applied: boolean;
}

/**
 * Apply the experimental CCSP dedup in place. As the reference: nothing happens when main_host
 * has no rows or no host has a serial; otherwise the DIRECT job host summaries first take the
 * canonical facts and facts main_host holds for their (pre-dedup) host name (none: empty), then
 * every dataframe's hosts are renamed and regrouped. The job host summaries end up grouped.
 * A host name main_host lists under several install uuids gets the facts of all of them (the
 * reference fails on such a name).
 */
export async function dedupCcspExperimental(frames: CcspDedupFrames): Promise<CcspDedupResult> {
  const { jobHostSummary: jhs, mainHost, events } = frames;
  await jhs.group();
  await mainHost.group();
  const db = jhs.db;
  const [s] = await db.all<{ n: bigint }>(`SELECT count(*) AS n FROM ${ident(mainHost.table)} WHERE len(serials) > 0`);
  if (Number(s?.n ?? 0) === 0) return { renamed: 0, applied: false };
  const mapping = await mainHost.hostNameMapping();
  await enrichDirectFacts(jhs, mainHost);
  await jhs.regroup({ hostNameMapping: mapping });
  if (events) await events.regroup({ hostNameMapping: mapping });
  await mainHost.regroup({ hostNameMapping: mapping });
  return { renamed: mapping.size, applied: true };
}

/** DIRECT grouped rows' canonical_facts and facts := main_host's for their host name (empty when it has none). */
async function enrichDirectFacts(jhs: JobHostSummary, mainHost: MainHost): Promise<void> {
  const t = ident(jhs.table);
  const pick = (col: string) => `CASE WHEN d.managed_node_type = ${DIRECT} THEN COALESCE(m.${col}, []::${PAIRS_TYPE}) ELSE d.${col} END AS ${col}`;
  await jhs.db.run(
    `CREATE OR REPLACE TABLE ${t} AS SELECT d.* REPLACE (${pick('canonical_facts')}, ${pick('facts')}) FROM ${t} d
     LEFT JOIN (SELECT host_name, ${unionLists('canonical_facts')} AS canonical_facts, ${unionLists('facts')} AS facts
       FROM ${ident(mainHost.table)} WHERE host_name IS NOT NULL GROUP BY host_name) m ON m.host_name = d.host_name`,
  );
}

/**
 * Write, from the grouped job host summaries, a table `name` of what the dedup columns of the
 * sheets show per (organization_name, host_name, managed_node_type): the merged canonical facts
 * and facts (`cf`, `f`) and the host names before dedup (`names`), keeping only `organizations`
 * when given (METRICS_UTILITY_ORGANIZATION_FILTER). Groups the dataframe first.
 */
export async function dedupHostsInto(jhs: JobHostSummary, name: string, opts: { organizations?: readonly string[] | undefined } = {}): Promise<void> {
  await jhs.group();
  const inOrgs = opts.organizations?.length ? `WHERE organization_name IN (${opts.organizations.map(literal).join(', ')})` : '';
  await jhs.db.run(
    `CREATE OR REPLACE TABLE ${ident(name)} AS SELECT organization_name, host_name, managed_node_type,
       CAST(${unionLists('canonical_facts')} AS ${PAIRS_TYPE}) AS cf, CAST(${unionLists('facts')} AS ${PAIRS_TYPE}) AS f,
       CAST(${unionLists('host_names_before_dedup')} AS VARCHAR[]) AS names
     FROM ${ident(jhs.table)} ${inOrgs} GROUP BY ALL`,
  );
}
