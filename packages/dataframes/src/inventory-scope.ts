import { ident } from './duckdb.js';
import type { MainHost } from './main-host.js';
import type { FactPair } from './types.js';

/** One row of the "Inventory Scope" sheet: a grouped main_host row without its install_uuid. */
export interface InventoryScopeRow {
  hostName: string | null;
  lastAutomation: Date | null;
  /** `lastAutomation` as epoch microseconds (the Date is cut to milliseconds). */
  lastAutomationUs: number | null;
  organizations: string[];
  inventories: string[];
  canonicalFacts: FactPair[];
  facts: FactPair[];
  /** The host names its rows had before the ccsp-experimental dedup merged them (its own name otherwise). */
  hostNamesBeforeDedup: string[];
}

/**
 * The grouped main_host rows (main_host.csv, else main_host_daily.csv, per tarball), sorted by
 * host name and install_uuid as the reference's groupby leaves them (NULLs last). No
 * organization filter applies (as in the reference).
 */
export async function inventoryScope(mainHost: MainHost): Promise<InventoryScopeRow[]> {
  await mainHost.group();
  const rows = await mainHost.db.all(
    `SELECT host_name, last_automation, epoch_us(last_automation) AS last_us, organizations, inventories, canonical_facts, facts, host_names_before_dedup FROM ${ident(mainHost.table)}
     ORDER BY host_name NULLS LAST, install_uuid NULLS LAST`,
  );
  return rows.map((r) => ({
    hostName: (r.host_name as string | null) ?? null,
    lastAutomation: r.last_automation instanceof Date ? r.last_automation : null,
    lastAutomationUs: r.last_us === null || r.last_us === undefined ? null : Number(r.last_us),
    organizations: (r.organizations as string[] | null) ?? [],
    inventories: (r.inventories as string[] | null) ?? [],
    canonicalFacts: (r.canonical_facts as FactPair[] | null) ?? [],
    facts: (r.facts as FactPair[] | null) ?? [],
    hostNamesBeforeDedup: (r.host_names_before_dedup as string[] | null) ?? [],
  }));
}
