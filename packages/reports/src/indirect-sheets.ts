/** "Indirectly Managed nodes" and "Infrastructure Summary": the INDIRECT rows' sheets. */
import { type FactValue, type IndirectNode, indirectNodes, type InfrastructureRow, infrastructureSummary, type RowSource } from '@tally/dataframes';
import type { Worksheet } from './xlsx-writer.js';
import { excelDateOrNull as at } from './excel-date.js';
import { factCellValue, factsCell, setCell } from './convert-cell.js';
import { DEDUP_HEADERS, type DedupColumns } from './dedup-columns.js';
import type { DataRow } from './queries.js';
import { DATA_WIDTHS, setWidths, writeDataTable } from './sheet.js';
import { font } from './styles.js';

type AddSheet = (title: string) => Worksheet;

export const INDIRECT_NODES_TITLE = 'Indirectly Managed nodes';
export const INFRASTRUCTURE_SUMMARY_TITLE = 'Infrastructure Summary';

/** The reference's headers, its typo ("Manage") included. */
export const INDIRECT_NODES_HEADERS = [
  'Host name',
  'Automated by\norganizations',
  'Job runs',
  'Number of task\nruns',
  'First\nautomation',
  'Last\nautomation',
  'Canonical\nFacts',
  'Facts',
  'Manage\nNode\nTypes',
  'Events',
];

export const INFRASTRUCTURE_HEADERS = ['Infrastructure', 'Device Category', 'Device Type', 'Unique Nodes', 'Total Nodes'];

export function indirectNodeRow(n: IndirectNode): DataRow {
  return [n.hostName, n.organizations, n.jobRuns, n.taskRuns, at(n.firstAutomationUs), at(n.lastAutomationUs), factsCell(n.canonicalFacts), factsCell(n.facts), setCell(n.types), setCell(n.events)];
}

/**
 * "Indirectly Managed nodes": one row per host of the INDIRECT rows; a header alone without any.
 * Under ccsp-experimental (`dedup`) the host names before dedup and their count follow.
 */
export async function writeIndirectNodesSheet(add: AddSheet, db: RowSource, table: string | undefined, dedup?: DedupColumns): Promise<void> {
  const ws = add(INDIRECT_NODES_TITLE);
  setWidths(ws, DATA_WIDTHS);
  const rows = table ? (await indirectNodes(db, table)).map(indirectNodeRow) : [];
  if (dedup) writeDataTable(ws, [...INDIRECT_NODES_HEADERS, ...DEDUP_HEADERS], rows.map((r) => [...r, ...dedup.names(r[0])]));
  else writeDataTable(ws, INDIRECT_NODES_HEADERS, rows);
  ws.commit();
}

/**
 * "Infrastructure Summary" (CCSPv2): a row per infrastructure type (A:C merged), per device
 * category (B) and per device type with its unique and total nodes; "No indirect nodes found"
 * without INDIRECT rows.
 */
export async function writeInfrastructureSummarySheet(add: AddSheet, db: RowSource, table: string | undefined): Promise<void> {
  const ws = add(INFRASTRUCTURE_SUMMARY_TITLE);
  setWidths(ws, { 1: 20, 2: 20, 3: 20, 4: 20, 5: 20 });
  const rows = table ? await infrastructureSummary(db, table) : [];
  writeInfrastructureRows(ws, rows);
  ws.commit();
}

function writeInfrastructureRows(ws: Worksheet, rows: readonly InfrastructureRow[]): void {
  const value = font(10);
  const bold = font(10, { bold: true });
  if (rows.length === 0) {
    const c = ws.getRow(1).getCell(1);
    c.value = 'No indirect nodes found';
    c.font = value;
    return;
  }
  let r = 1;
  const heading = (cells: [number, string | number | boolean][]) => {
    const row = ws.getRow(r++);
    row.height = 25;
    for (const [col, text] of cells) {
      const c = row.getCell(col);
      c.value = text;
      c.font = bold;
      c.alignment = { horizontal: 'left' };
    }
    return row;
  };
  heading(INFRASTRUCTURE_HEADERS.map((h, i) => [i + 1, h]));
  let type: FactValue | undefined;
  let bucket: FactValue | undefined;
  for (const d of rows) {
    if (d.infraType !== type) {
      ws.mergeCells(r, 1, r, 3);
      heading([[1, factCellValue(d.infraType)]]);
      type = d.infraType;
      bucket = undefined;
    }
    if (d.infraBucket !== bucket) {
      heading([[2, factCellValue(d.infraBucket)]]);
      bucket = d.infraBucket;
    }
    const row = ws.getRow(r++);
    [factCellValue(d.deviceType), d.uniqueNodes, d.totalNodes].forEach((v, i) => {
      const c = row.getCell(3 + i);
      c.value = v;
      c.font = value;
    });
  }
}
