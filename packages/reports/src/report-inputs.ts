/**
 * The inputs of the newest reference's sheets besides the usage tables: the grouped INDIRECT
 * rows, the Inventory Scope rows (main_host) and the data_collection_status rows. Loaded with
 * the usage tables, in the same read of the tarballs.
 */
import {
  type CollectionGap,
  type CollectionStatusRow,
  collectionStatusRows,
  DataCollectionStatus,
  type Dataframe,
  dedupCcspExperimental,
  dedupHostsInto,
  groupIndirectInto,
  type InventoryScopeRow,
  inventoryScope,
  type JobHostSummary,
  MainHost,
  type MainJobevent,
  type TallyDuckDb,
} from '@tally/dataframes';
import type { ReportPeriod } from './build.js';
import { periodGaps } from './collection-status-sheet.js';
import type { SheetInputs } from './sheet-selection.js';
import type { ReportTables } from './queries.js';

export const INDIRECT_TABLE = 'report_indirect_rows';
export const DEDUP_HOSTS_TABLE = 'report_dedup_hosts';
const DEDUP_FACTS_TABLE = 'report_dedup_facts';

export interface ReportExtras {
  /** Table of grouped INDIRECT-only rows; absent when the period has none. */
  indirect?: string | undefined;
  /** Inventory Scope rows, when that sheet is selected. */
  inventoryScope?: InventoryScopeRow[] | undefined;
  /** Every data_collection_status.csv row of the period. */
  collectionStatus: CollectionStatusRow[];
  /** Under ccsp-experimental: the DIRECT hosts' dedup columns per organization and host (`dedupHostsInto`). */
  dedupHosts?: string | undefined;
  /** Under ccsp-experimental: the host renames the usage tables apply (`dedupCcspExperimental`). */
  hostNameMapping?: ReadonlyMap<string, string> | undefined;
}

/** The dataframes the extras read (main_host only for Inventory Scope and the ccsp-experimental dedup). */
export function extraDataframes(db: TallyDuckDb, inputs: SheetInputs): { mainHost?: MainHost; status: DataCollectionStatus; all: Dataframe[] } {
  const status = new DataCollectionStatus(db);
  if (!inputs.mainHost) return { status, all: [status] };
  const mainHost = new MainHost(db);
  return { mainHost, status, all: [mainHost, status] };
}

/**
 * Build the extras once the tarballs are loaded, BEFORE the usage tables consume the job host
 * summaries' prepared rows.
 */
export async function loadExtras(
  jhs: JobHostSummary,
  frames: ReturnType<typeof extraDataframes>,
  organizationFilter: readonly string[] | undefined,
  /** METRICS_UTILITY_DEDUPLICATOR=ccsp-experimental, with the events when the workbook reads them. */
  experimental?: { events: MainJobevent | undefined } | undefined,
): Promise<ReportExtras> {
  let dedupHosts: string | undefined;
  let hostNameMapping: ReadonlyMap<string, string> | undefined;
  if (experimental && frames.mainHost) {
    // Before anything reads the rows: every sheet counts the deduplicated hosts.
    const dedup = await dedupCcspExperimental({ mainHost: frames.mainHost, events: experimental.events }, DEDUP_FACTS_TABLE);
    hostNameMapping = dedup.mapping;
    const facts = dedup.applied ? DEDUP_FACTS_TABLE : undefined;
    await dedupHostsInto(jhs, DEDUP_HOSTS_TABLE, { mapping: dedup.mapping, facts, organizations: organizationFilter });
    dedupHosts = DEDUP_HOSTS_TABLE;
  }
  // No job host summary added (a read from usage rollups alone): no INDIRECT row, nothing to group.
  const indirectRows = jhs.sources === 0 ? 0 : await groupIndirectInto(jhs, INDIRECT_TABLE, { organizations: organizationFilter, hostNameMapping });
  return {
    indirect: indirectRows > 0 ? INDIRECT_TABLE : undefined,
    inventoryScope: frames.mainHost ? await inventoryScope(frames.mainHost) : undefined,
    collectionStatus: await collectionStatusRows(frames.status),
    dedupHosts,
    hostNameMapping,
  };
}

/**
 * No data for any selected sheet: no job host summary (DIRECT or INDIRECT), no events, no
 * Inventory Scope or Data collection status rows when those sheets are selected (the newest
 * reference writes nothing when every dataframe it loaded is empty).
 */
export function hasNoData(t: ReportTables, sheets: readonly string[]): boolean {
  if (!t.empty || t.indirect || t.content) return false;
  if (sheets.includes('inventory_scope') && (t.extras?.inventoryScope?.length ?? 0) > 0) return false;
  if (sheets.includes('data_collection_status') && (t.extras?.collectionStatus.length ?? 0) > 0) return false;
  return true;
}

/** A collector gap worth a warning: longer than an hour. */
export const LONG_GAP_SECONDS = 3600;

/** The period's collection gaps longer than an hour (`tally report` warns about each). */
export function longGaps(rows: readonly CollectionStatusRow[], period: ReportPeriod): CollectionGap[] {
  return periodGaps(rows, period).filter((g) => g.seconds > LONG_GAP_SECONDS);
}
