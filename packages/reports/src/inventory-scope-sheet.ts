/** "Inventory Scope": the hosts of main_host (else main_host_daily) per host name and install. */
import type { InventoryScopeRow } from '@tally/dataframes';
import type ExcelJS from 'exceljs';
import { factsCell, setCell } from './convert-cell.js';
import type { DataRow } from './queries.js';
import { DATA_WIDTHS, setWidths, writeDataTable } from './sheet.js';

export const INVENTORY_SCOPE_TITLE = 'Inventory Scope';
export const INVENTORY_SCOPE_HEADERS = ['Host name', 'Last\nAutomation', 'Organizations', 'Inventories', 'Canonical Facts', 'Facts'];

export function inventoryScopeRow(r: InventoryScopeRow): DataRow {
  return [r.hostName, r.lastAutomation, setCell(r.organizations), setCell(r.inventories), factsCell(r.canonicalFacts), factsCell(r.facts)];
}

export function writeInventoryScopeSheet(add: (title: string) => ExcelJS.Worksheet, rows: readonly InventoryScopeRow[] | undefined): void {
  const ws = add(INVENTORY_SCOPE_TITLE);
  setWidths(ws, DATA_WIDTHS);
  writeDataTable(ws, INVENTORY_SCOPE_HEADERS, (rows ?? []).map(inventoryScopeRow));
  ws.commit();
}
