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
  groupIndirectInto,
  type InventoryScopeRow,
  inventoryScope,
  type JobHostSummary,
  MainHost,
  type TallyDuckDb,
} from '@tally/dataframes';
import type { ReportPeriod } from './build.js';
import { periodGaps } from './collection-status-sheet.js';
import type { SheetInputs } from './sheet-selection.js';
import type { ReportTables } from './queries.js';

export const INDIRECT_TABLE = 'report_indirect_rows';

export interface ReportExtras {
  /** Table of grouped INDIRECT-only rows; absent when the period has none. */
  indirect?: string | undefined;
  /** Inventory Scope rows, when that sheet is selected. */
  inventoryScope?: InventoryScopeRow[] | undefined;
  /** Every data_collection_status.csv row of the period. */
  collectionStatus: CollectionStatusRow[];
}

/** The dataframes the extras read (main_host only for Inventory Scope). */
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
): Promise<ReportExtras> {
  const indirectRows = await groupIndirectInto(jhs, INDIRECT_TABLE, { organizations: organizationFilter });
  return {
    indirect: indirectRows > 0 ? INDIRECT_TABLE : undefined,
    inventoryScope: frames.mainHost ? await inventoryScope(frames.mainHost) : undefined,
    collectionStatus: await collectionStatusRows(frames.status),
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
