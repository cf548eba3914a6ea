import { pythonFloat } from '@tally/core';
import type { ReportParams } from './params.js';
import { type ReportTables, ReportQueries } from './queries.js';
import { DATA_WIDTHS, openWorkbook, setWidths } from './sheet.js';
import { contentQueries, ManagedNodesTable, writeContentSheets } from './content-sheets.js';
import { writeSheetsAfterManagedNodes } from './newer-sheets.js';
import { pyRound } from './py-round.js';
import { border, COLOR, fill, font, PRICE_FORMAT } from './styles.js';

export const CCSP_HEADERS = [
  'Organization name (i.e. company name)',
  "Please Mark With An 'X' If The Usage Is Internal. \nOtherwise Leave Blank",
  'Red Hat SKU\n Quantity Consumed',
  'Subscription Fee\n (SKU Unit Price)',
  'Extended\n Subscription Fees\n (SKU Extended Unit Price)',
];

/** Write the CCSP (v1) workbook to `filename`. */
export async function writeCcsp(filename: string, t: ReportTables, p: ReportParams): Promise<void> {
  const q = new ReportQueries(t);
  const managedNodes = new ManagedNodesTable(q, t);
  q.prefetch(() => [q.orgQuantities(), ...(p.sheets.includes('managed_nodes') ? [managedNodes.query()] : []), ...contentQueries(q, t, p.sheets)]);
  try {
    await writeSheets(filename, q, t, p, managedNodes);
  } finally {
    managedNodes.abandon();
    await q.settled();
  }
}

async function writeSheets(filename: string, q: ReportQueries, t: ReportTables, p: ReportParams, managedNodes: ManagedNodesTable): Promise<void> {
  const wb = await openWorkbook(filename);
  const ws = wb.addWorksheet('Usage Reporting');
  setWidths(ws, { 1: 63, 2: 63, 3: 15, 4: 15, 5: 15 });

  const h1 = ws.getRow(1);
  h1.getCell(1).value = p.h1Heading;
  for (const c of [1, 2]) {
    h1.getCell(c).fill = fill(COLOR.black);
    h1.getCell(c).font = font(17, { color: COLOR.white });
    h1.getCell(c).alignment = { horizontal: 'center', vertical: 'middle' };
  }
  ws.mergeCells('A1:B1');
  const pairs: [string, string][] = [
    ['CCSP Company Name', p.companyName],
    ['CCSP Email', p.email],
    ['CCSP RHN Login', p.rhnLogin],
    ['Report Period (YYYY-MM)', p.reportPeriod],
    ['Company Business leader ', p.companyBusinessLeader],
    ['Company Procurement leader ', p.companyProcurementLeader],
    ['Periodicity', 'Report is submitted monthly'],
  ];
  pairs.forEach(([label, value], i) => {
    const row = ws.getRow(2 + i);
    row.getCell(1).value = label;
    row.getCell(1).font = font(14, { color: COLOR.white });
    row.getCell(1).fill = fill(COLOR.blue);
    row.getCell(2).value = value;
    row.getCell(2).font = font(14, { color: COLOR.black });
  });
  for (const [r, color] of [[9, COLOR.black], [10, COLOR.greenV1], [11, COLOR.black]] as const) {
    for (const c of [1, 2]) ws.getRow(r).getCell(c).fill = fill(color);
    // The streaming writer drops rows without values unless they have a height; 15 is Excel's default.
    ws.getRow(r).height = 15;
  }
  ws.getRow(10).getCell(1).value = 'Monthly payment';

  const skuHead = ['SKU', 'SKU Description', '', 'Term', 'Unit of Measure', 'Currency', 'MSRP'];
  const skuVals = [p.sku, p.skuDescription, '', 'MONTH', 'MANAGED NODE', 'USD', pythonFloat(p.pricePerNode)];
  skuHead.forEach((v, i) => {
    const c = ws.getRow(14).getCell(i + 1);
    c.value = v;
    c.font = font(11, { bold: true });
    c.border = border('thin');
  });
  skuVals.forEach((v, i) => {
    const c = ws.getRow(15).getCell(i + 1);
    c.value = v;
    c.font = font(11);
  });

  const head = ws.getRow(17);
  CCSP_HEADERS.forEach((h, i) => {
    const c = head.getCell(i + 1);
    c.value = h;
    c.font = font(10, { bold: true });
    c.border = border('dotted');
  });
  const first = 18;
  let r = first;
  // `round(price, 2)` before the formula multiplies it, as the reference: a bill is C × the rounded D.
  const price = pyRound(p.pricePerNode, 2);
  for (const [org, quantity] of await q.orgQuantities()) {
    const row = ws.getRow(r);
    const values = [org, '', quantity, price, { formula: `C${r}*D${r}` }];
    values.forEach((v, i) => {
      const c = row.getCell(i + 1);
      c.value = v as never;
      c.font = font(10);
      c.border = border('dotted');
      if (i >= 3) c.numFmt = PRICE_FORMAT;
    });
    r++;
  }
  if (r > first) {
    const row = ws.getRow(r);
    row.getCell(1).value = 'Sum of monthly payment';
    row.getCell(5).value = { formula: `SUM(E${first}:E${r - 1})` };
    for (let c = 1; c <= 5; c++) {
      row.getCell(c).font = font(10, { bold: true });
      row.getCell(c).border = border('dotted');
    }
    row.getCell(5).numFmt = PRICE_FORMAT;
  }
  ws.commit();

  if (p.sheets.includes('managed_nodes')) {
    const mn = wb.addWorksheet('Managed nodes');
    setWidths(mn, DATA_WIDTHS);
    await managedNodes.write(mn);
    mn.commit();
  }
  await writeSheetsAfterManagedNodes((title) => wb.addWorksheet(title), t, p.sheets, false);
  await writeContentSheets(wb, q, t, p.sheets);
  const released = q.release();
  released.catch(() => {}); // awaited once the file is written
  await wb.commit();
  await released;
}
