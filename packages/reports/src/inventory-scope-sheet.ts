/** "Inventory Scope": the hosts of main_host (else main_host_daily) per host name and install. */
import type { InventoryScopeRow } from '@tally/dataframes';
import type { Worksheet } from './xlsx-writer.js';
import { excelDateOrNull as at } from './excel-date.js';
import { factsCell, setCell } from './convert-cell.js';
import { DEDUP_HEADERS } from './dedup-columns.js';
import type { DataRow } from './queries.js';
import { DATA_WIDTHS, setWidths, writeDataTable } from './sheet.js';

export const INVENTORY_SCOPE_TITLE = 'Inventory Scope';
export const INVENTORY_SCOPE_HEADERS = ['Host name', 'Last\nAutomation', 'Organizations', 'Inventories', 'Canonical Facts', 'Facts'];

export function inventoryScopeRow(r: InventoryScopeRow): DataRow {
  return [r.hostName, at(r.lastAutomationUs), setCell(r.organizations), setCell(r.inventories), factsCell(r.canonicalFacts), factsCell(r.facts)];
}

/** Under ccsp-experimental (`dedup`) each row's host names before dedup and their count follow. */
export function writeInventoryScopeSheet(add: (title: string) => Worksheet, rows: readonly InventoryScopeRow[] | undefined, dedup = false): void {
  const ws = add(INVENTORY_SCOPE_TITLE);
  setWidths(ws, DATA_WIDTHS);
  if (dedup) {
    const withNames = (rows ?? []).map((r) => [...inventoryScopeRow(r), setCell(r.hostNamesBeforeDedup), r.hostNamesBeforeDedup.length]);
    writeDataTable(ws, [...INVENTORY_SCOPE_HEADERS, ...DEDUP_HEADERS], withNames);
  } else writeDataTable(ws, INVENTORY_SCOPE_HEADERS, (rows ?? []).map(inventoryScopeRow));
  ws.commit();
}
