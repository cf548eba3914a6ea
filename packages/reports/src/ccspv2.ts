import type { WorkbookWriter, Worksheet } from './xlsx-writer.js';
import type { ReportParams } from './params.js';
import { type DataRow, type ReportTables, ReportQueries, type Value } from './queries.js';
import { DATA_WIDTHS, openWorkbook, setWidths, sheetTitle, writeDataTable } from './sheet.js';
import { contentQueries, MANAGED_NODES_HEADERS, ManagedNodesTable, writeContentSheets } from './content-sheets.js';
import { DEDUP_HEADERS, dedupColumns } from './dedup-columns.js';
import { writeLastSheets, writeSheetsAfterManagedNodes } from './newer-sheets.js';
import { pyRound } from './py-round.js';
import { border, COLOR, fill, font, PRICE_FORMAT, updatedLabel } from './styles.js';

export const CCSPV2_HEADERS = [
  'End User Company Name',
  "Enter 'X' to indicate\nInteral Usage",
  'End User\nCity',
  'End User\nState/Prov',
  'Country Where\nSKU Consumed',
  'SKU Number',
  'Quantity',
  'SKU Description',
  'SKU Unit Price',
  'SKU Extended Unit\nPrice',
  'Notes',
];
export const JOBS_HEADERS = [
  'Job template\nname',
  'Organization\nname',
  'Job runs',
  'Unique managed nodes\nautomated',
  'Non-unique managed\nnodes automated',
  'Number of task\nruns',
  'First\nrun',
  'Last\nrun',
];
export const ORGANIZATIONS_HEADERS = ['Organization name', 'Job runs', 'Unique managed nodes\nautomated', 'Non-unique managed\nnodes automated', 'Number of task\nruns'];
/** Inserted before `Number of task\nruns` when `indirectly_managed_nodes` is selected. */
export const ORGANIZATIONS_INDIRECT_HEADERS = ['Unique indirect managed nodes\nautomated', 'Non-unique indirect managed\nnodes automated'];
export const ORG_SHEET_HEADERS = ['Host name', 'Job runs', 'Number of task\nruns', 'First\nautomation', 'Last\nautomation'];
const BLANK_ROWS = 5;

function summaryRow(ws: Worksheet, r: number, values: unknown[], firstDataRow: boolean): void {
  const row = ws.getRow(r);
  row.height = 25;
  for (let i = 0; i < 11; i++) {
    const c = row.getCell(i + 1);
    if (values[i] !== undefined) c.value = values[i] as never;
    c.font = font(10);
    c.border = border('dotted', { top: !firstDataRow });
    if (i >= 7) c.fill = fill(COLOR.lightBlue);
    if (i === 8 || i === 9) c.numFmt = PRICE_FORMAT;
  }
}

async function writeSummary(wb: WorkbookWriter, q: ReportQueries, p: ReportParams): Promise<void> {
  const ws = wb.addWorksheet('Usage Reporting');
  setWidths(ws, { 1: 40, 2: 25, 3: 15, 4: 15, 5: 15, 6: 20, 7: 15, 8: 30, 9: 20, 10: 20, 11: 20 });
  const quantity = await q.totalQuantity();
  const first = 7;
  const last = first + (quantity > 0 ? 1 : 0) + BLANK_ROWS - 1;

  const r1 = ws.getRow(1);
  r1.getCell(1).value = p.h1Heading;
  r1.getCell(1).font = font(12, { bold: true });
  r1.getCell(8).value = updatedLabel(p.now);
  r1.getCell(8).font = font(12);
  ws.mergeCells('A1:B1');
  const labels: [string, string][] = [
    ['CCSP Company Name', p.companyName],
    ['CCSP Email', p.email],
    ['CCSP RHN Login', p.rhnLogin],
    ['Report Period (YYYY-MM)', p.reportPeriod],
  ];
  labels.forEach(([label, value], i) => {
    const row = ws.getRow(2 + i);
    row.getCell(1).value = label;
    row.getCell(1).font = font(12);
    row.getCell(2).value = value;
    row.getCell(2).font = font(12);
    row.getCell(2).fill = fill(COLOR.green);
  });
  const grand = ws.getRow(2);
  grand.getCell(9).value = 'Grand total';
  grand.getCell(9).fill = fill(COLOR.lightBlue);
  grand.getCell(9).font = font(10);
  grand.getCell(10).value = { formula: `SUM(J${first}:J${last})` };
  grand.getCell(10).fill = fill(COLOR.lightBlue);
  grand.getCell(10).font = font(10, { color: COLOR.red });
  grand.getCell(10).numFmt = PRICE_FORMAT;
  const po = ws.getRow(4);
  po.getCell(5).value = 'PO Number';
  po.getCell(5).fill = fill(COLOR.green);
  po.getCell(6).value = p.poNumber;
  po.getCell(6).fill = fill(COLOR.green);

  const head = ws.getRow(6);
  head.height = 35;
  CCSPV2_HEADERS.forEach((h, i) => {
    const c = head.getCell(i + 1);
    c.value = h;
    c.font = font(10, { bold: true });
    c.border = border('medium');
    c.alignment = { horizontal: 'center', vertical: 'middle', wrapText: true };
  });
  let r = first;
  if (quantity > 0) {
    summaryRow(
      ws,
      r,
      [p.endUserCompanyName, '', p.endUserCity, p.endUserState, p.endUserCountry, p.sku, quantity, p.skuDescription, pyRound(p.pricePerNode, 2), { formula: `G${r}*I${r}` }, ''],
      true,
    );
    r++;
  }
  for (let i = 0; i < BLANK_ROWS; i++, r++) {
    const values: unknown[] = [];
    values[9] = { formula: `G${r}*I${r}` };
    summaryRow(ws, r, values, quantity === 0 && i === 0);
  }
  ws.commit();
}

/**
 * The organization-details variant of Managed nodes: each host's last automation per organization
 * in a column per organization, no facts or dedup columns (as the reference). Returns the
 * per-organization rows (for the per-organization sheets).
 */
async function writeManagedNodesByOrg(ws: Worksheet, q: ReportQueries, orgs: readonly string[]): Promise<Map<string, DataRow[]>> {
  const rows = await q.managedNodes();
  const byOrgRows = await q.managedNodesByOrg();
  const last = new Map<string | null, Map<string, Value>>();
  for (const [org, orgRows] of byOrgRows) {
    for (const [host, , , , lastRun] of orgRows) {
      const key = host === null ? null : String(host);
      let perOrg = last.get(key);
      if (!perOrg) {
        perOrg = new Map();
        last.set(key, perOrg);
      }
      perOrg.set(org, lastRun ?? null);
    }
  }
  const widths: Record<number, number> = { ...DATA_WIDTHS };
  orgs.forEach((_, i) => {
    widths[MANAGED_NODES_HEADERS.length + 1 + i] = 20;
  });
  setWidths(ws, widths);
  const withOrgs = rows.map((row): DataRow => {
    const perOrg = last.get(row[0] === null ? null : String(row[0]));
    return [...row, ...orgs.map((o) => perOrg?.get(o) ?? null)];
  });
  writeDataTable(ws, [...MANAGED_NODES_HEADERS, ...orgs], withOrgs);
  return byOrgRows;
}

/** Write the CCSPv2 workbook to `filename`. */
export async function writeCcspV2(filename: string, t: ReportTables, p: ReportParams): Promise<void> {
  const q = new ReportQueries(t);
  const has = (sheet: string) => p.sheets.includes(sheet);
  const byOrg = has('managed_nodes_by_organizations');
  const managedNodes = new ManagedNodesTable(q, t);
  q.prefetch(() => [
    ...(has('ccsp_summary') ? [q.totalQuantity()] : []),
    ...(has('jobs') ? [q.jobs()] : []),
    q.organizations(),
    ...(has('managed_nodes') ? [byOrg ? q.managedNodes() : managedNodes.query()] : []),
    ...(byOrg ? [q.managedNodesByOrg()] : []),
    ...(has('usage_by_organizations') ? [q.usageByOrganizations(has('indirectly_managed_nodes'))] : []),
    ...contentQueries(q, t, p.sheets),
  ]);
  try {
    await writeSheets(filename, q, t, p, byOrg, managedNodes);
  } finally {
    managedNodes.abandon();
    await q.settled();
  }
}

async function writeSheets(filename: string, q: ReportQueries, t: ReportTables, p: ReportParams, byOrg: boolean, managedNodes: ManagedNodesTable): Promise<void> {
  const wb = await openWorkbook(filename);
  const taken = new Set<string>();
  const add = (name: string) => wb.addWorksheet(sheetTitle(name, taken));

  if (p.sheets.includes('ccsp_summary')) {
    taken.add('usage reporting');
    await writeSummary(wb, q, p);
  }
  if (p.sheets.includes('jobs')) {
    const ws = add('Jobs');
    setWidths(ws, { 1: 40, 2: 40, 3: 20, 4: 20, 5: 20, 6: 20, 7: 20, 8: 20 });
    writeDataTable(ws, JOBS_HEADERS, await q.jobs());
    ws.commit();
  }
  const orgs = await q.organizations();
  // Filled by the managed-nodes sheet when per-organization sheets follow (one query for both).
  let byOrgRows: Map<string, DataRow[]> | undefined;
  if (p.sheets.includes('managed_nodes')) {
    const ws = add('Managed nodes');
    if (byOrg) byOrgRows = await writeManagedNodesByOrg(ws, q, orgs);
    else {
      setWidths(ws, DATA_WIDTHS);
      await managedNodes.write(ws);
    }
    ws.commit();
  }
  await writeSheetsAfterManagedNodes(add, t, p.sheets, true);
  if (p.sheets.includes('usage_by_organizations')) {
    const ws = add('Usage by organizations');
    setWidths(ws, { 1: 40, 2: 20, 3: 20, 4: 20, 5: 20, 6: 20 });
    const indirect = p.sheets.includes('indirectly_managed_nodes');
    const headers = indirect ? [...ORGANIZATIONS_HEADERS.slice(0, 4), ...ORGANIZATIONS_INDIRECT_HEADERS, ...ORGANIZATIONS_HEADERS.slice(4)] : ORGANIZATIONS_HEADERS;
    writeDataTable(ws, headers, await q.usageByOrganizations(indirect));
    ws.commit();
  }
  for (const c of ['Usage by collections', 'Usage by roles', 'Usage by modules', 'Data collection status']) taken.add(c.toLowerCase());
  await writeContentSheets(wb, q, t, p.sheets);
  if (byOrg) {
    // The per-organization sheets count INDIRECT rows too (the Managed nodes columns do not).
    if (t.indirect) byOrgRows = await q.managedNodesByOrg(true);
    byOrgRows ??= await q.managedNodesByOrg();
    const dedup = await dedupColumns(t, 'byOrganization');
    for (const org of t.indirect ? await q.organizations(true) : orgs) {
      const ws = add(org);
      setWidths(ws, { 1: 40, 2: 20, 3: 20, 4: 20, 5: 20 });
      const rows = byOrgRows.get(org) ?? [];
      if (dedup) writeDataTable(ws, [...ORG_SHEET_HEADERS, ...DEDUP_HEADERS], rows.map((r) => [...r, ...dedup.names(r[0], org)]));
      else writeDataTable(ws, ORG_SHEET_HEADERS, rows);
      ws.commit();
    }
  }
  writeLastSheets((name) => wb.addWorksheet(name), t, p.sheets, p.period);
  const released = q.release();
  released.catch(() => {}); // awaited once the file is written
  await wb.commit();
  await released;
}
