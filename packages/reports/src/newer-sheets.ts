/**
 * Where the newest reference's sheets go in a workbook: registration hooks called by the CCSP
 * and CCSPv2 writers at their places in the sheet order.
 */
import type { Worksheet } from './xlsx-writer.js';
import type { ReportPeriod } from './build.js';
import { writeCollectionStatusSheet } from './collection-status-sheet.js';
import { dedupColumns } from './dedup-columns.js';
import { writeIndirectNodesSheet, writeInfrastructureSummarySheet } from './indirect-sheets.js';
import { writeInventoryScopeSheet } from './inventory-scope-sheet.js';
import type { ReportTables } from './queries.js';

type AddSheet = (title: string) => Worksheet;

/** After "Managed nodes": Indirectly Managed nodes, Inventory Scope, and (CCSPv2) Infrastructure Summary, each when selected. */
export async function writeSheetsAfterManagedNodes(add: AddSheet, t: ReportTables, sheets: readonly string[], v2: boolean): Promise<void> {
  if (sheets.includes('indirectly_managed_nodes')) await writeIndirectNodesSheet(add, t.db, t.indirect, await dedupColumns(t, 'indirect'));
  if (sheets.includes('inventory_scope')) writeInventoryScopeSheet(add, t.extras?.inventoryScope, Boolean(t.extras?.dedupHosts));
  if (v2 && sheets.includes('infrastructure_summary')) await writeInfrastructureSummarySheet(add, t.db, t.indirect);
}

/** The last sheet of CCSPv2, when selected: Data collection status. */
export function writeLastSheets(add: AddSheet, t: ReportTables, sheets: readonly string[], period: ReportPeriod | undefined): void {
  if (period && sheets.includes('data_collection_status')) writeCollectionStatusSheet(add, t.extras?.collectionStatus ?? [], period);
}
