/**
 * The columns METRICS_UTILITY_DEDUPLICATOR=ccsp-experimental adds to the node sheets (the newest
 * reference's `handle_dedup_columns_for_usage`): Managed nodes gets the DIRECT rows' merged
 * canonical facts and facts, and every node sheet the host names before dedup (a sorted JSON
 * list) and their count.
 */
import { type FactPair, ident, PAIRS_TYPE } from '@tally/dataframes';
import { factsCell, setCell } from './convert-cell.js';
import type { DataRow, ReportTables } from './queries.js';

export const FACTS_HEADERS = ['Canonical\nFacts', 'Facts'];
export const DEDUP_HEADERS = ['Host names\nbefore\ndeduplication', 'Host names\nbefore\ndeduplication\ncount'];

interface DedupHost {
  canonicalFacts: FactPair[];
  facts: FactPair[];
  names: string[];
}

/** Per host (or per organization and host), what the dedup columns show. */
export class DedupColumns {
  constructor(private readonly hosts: Map<string, DedupHost>) {}

  private get(host: unknown, org?: unknown): DedupHost {
    return this.hosts.get(key(host, org)) ?? { canonicalFacts: [], facts: [], names: [] };
  }

  /** The two host-name columns of `host` (of `org`, for the per-organization sheets). */
  names(host: unknown, org?: unknown): DataRow {
    const { names } = this.get(host, org);
    return [setCell(names), names.length];
  }

  /** The Managed nodes columns of `host`: canonical facts, facts, then the host-name columns. */
  factsAndNames(host: unknown): DataRow {
    const h = this.get(host);
    return [factsCell(h.canonicalFacts), factsCell(h.facts), ...this.names(host)];
  }
}

const key = (host: unknown, org?: unknown) => JSON.stringify([org ?? null, host ?? null]);

/** Did the ccsp-experimental dedup run for this workbook (do the node sheets get dedup columns)? */
export function hasDedupColumns(t: Pick<ReportTables, 'extras'>): boolean {
  return t.extras?.dedupHosts !== undefined;
}

/**
 * The dedup columns of the DIRECT rows (Managed nodes), the INDIRECT rows (Indirectly Managed
 * nodes) or all rows per organization (the per-organization sheets); undefined when the
 * ccsp-experimental dedup did not run for this workbook.
 */
export async function dedupColumns(t: ReportTables, rows: 'direct' | 'indirect' | 'byOrganization'): Promise<DedupColumns | undefined> {
  if (!hasDedupColumns(t)) return undefined;
  const direct = t.extras?.dedupHosts;
  if (!direct) return undefined;
  const none = `(SELECT NULL::VARCHAR AS organization_name, NULL::VARCHAR AS host_name, []::${PAIRS_TYPE} AS cf, []::${PAIRS_TYPE} AS f, []::VARCHAR[] AS names WHERE false)`;
  const indirect = t.indirect
    ? `(SELECT organization_name, host_name, []::${PAIRS_TYPE} AS cf, []::${PAIRS_TYPE} AS f, host_names_before_dedup AS names FROM ${ident(t.indirect)})`
    : none;
  const from = { direct: ident(direct), indirect, byOrganization: `(SELECT * FROM ${ident(direct)} UNION ALL BY NAME SELECT * FROM ${indirect})` }[rows];
  const byOrg = rows === 'byOrganization';
  const union = (col: string) => `list_sort(list_distinct(flatten(list(${col}))))`;
  const found = await t.db.all(
    `SELECT ${byOrg ? 'organization_name' : 'NULL'} AS o, host_name AS h, ${union('cf')} AS cf, ${union('f')} AS f, ${union('names')} AS names
     FROM ${from} GROUP BY ALL`,
  );
  const hosts = new Map<string, DedupHost>();
  for (const r of found) {
    hosts.set(key(r.h, r.o), {
      canonicalFacts: (r.cf as FactPair[] | null) ?? [],
      facts: (r.f as FactPair[] | null) ?? [],
      names: (r.names as string[] | null) ?? [],
    });
  }
  return new DedupColumns(hosts);
}
