import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCcspReport, type CcspDeduplicator, readWorkbook, reportParams } from '@tally/reports';
import { DirectoryStorage } from '@tally/storage';
import { AUDIT_HEADER, csvJson, EVENT_HEADER, JHS_HEADER, MAIN_HOST_HEADER, writeIndirectLake, writeTarball } from '@tally/testkit';
import type ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORG_SHEET_HEADERS } from '../src/ccspv2.js';
import { MANAGED_NODES_HEADERS } from '../src/content-sheets.js';
import { DEDUP_HEADERS, FACTS_HEADERS } from '../src/dedup-columns.js';
import { INDIRECT_NODES_HEADERS } from '../src/indirect-sheets.js';
import { INVENTORY_SCOPE_HEADERS } from '../src/inventory-scope-sheet.js';

/*
 * METRICS_UTILITY_DEDUPLICATOR=ccsp-experimental on a crafted September 2024 (install u-1), with
 * hand-computed expectations. main_host canonical facts (serial/machine id):
 *   web-a, web-b      P1/M1 both shared          → web-b becomes web-a
 *   db1, db2          P2/M2, P2/M3 serial only   → apart
 *   app1, app2        P4/M4, P5/M4 machine only  → apart
 *   na1, na2          NA/NA                      → na2 becomes na1 ('NA' is a serial here)
 *   blank1, blank2    ''/M9 ('' is no null)      → blank2 becomes blank1
 *   srv-old (09-01), srv-new (09-02) P6/M6: a host renamed → srv-old becomes srv-new (sorts first)
 *   old-name (ansible_host renamed.example.com), zz-clone  P7/M7 → zz-clone becomes renamed.example.com
 *   gone              deleted: in the job host summaries, not in main_host → no facts, no merge
 * Job host summaries (DIRECT, one task run per `ok`), events, and an audit tarball (INDIRECT web-b, sw1).
 */

const HOUR = (h: number) => `2024-09-01 ${String(h).padStart(2, '0')}:00:00+00`;
const at = (h: number) => new Date(Date.UTC(2024, 8, 1, h));
const cf = (serial: string, machine: string) => ({ ansible_machine_id: machine, ansible_product_serial: serial });

/** [host, ansible_host, ok, job, template, organization]; row i is created at hour i+1. */
const JHS: [string, string, number, number, string, string][] = [
  ['web-a', '', 2, 1, 'deploy', 'Org A'],
  ['web-b', '', 3, 2, 'deploy', 'Org A'],
  ['web-b', '', 1, 5, 'backup', 'Org B'],
  ['db1', '', 1, 1, 'deploy', 'Org A'],
  ['db2', '', 1, 1, 'deploy', 'Org A'],
  ['app1', '', 1, 1, 'deploy', 'Org A'],
  ['app2', '', 1, 1, 'deploy', 'Org A'],
  ['na1', '', 1, 1, 'deploy', 'Org A'],
  ['na2', '', 1, 2, 'deploy', 'Org A'],
  ['blank1', '', 1, 1, 'deploy', 'Org A'],
  ['blank2', '', 1, 1, 'deploy', 'Org A'],
  ['srv-old', '', 1, 1, 'deploy', 'Org A'],
  ['srv-new', '', 1, 3, 'deploy', 'Org A'],
  ['old-name', 'renamed.example.com', 1, 1, 'deploy', 'Org A'],
  ['zz-clone', '', 1, 2, 'deploy', 'Org A'],
  ['gone', '', 4, 1, 'deploy', 'Org A'],
];

/** [host, ansible_host, canonical facts, facts]; last automation 09-01 00:00. */
const MAIN_HOST: [string, string, object, object][] = [
  ['web-a', '', cf('P1', 'M1'), { os: 'RHEL' }],
  ['web-b', '', cf('P1', 'M1'), { os: 'Fedora' }],
  ['db1', '', cf('P2', 'M2'), {}],
  ['db2', '', cf('P2', 'M3'), {}],
  ['app1', '', cf('P4', 'M4'), {}],
  ['app2', '', cf('P5', 'M4'), {}],
  ['na1', '', cf('NA', 'NA'), {}],
  ['na2', '', cf('NA', 'NA'), {}],
  ['blank1', '', cf('', 'M9'), {}],
  ['blank2', '', cf('', 'M9'), {}],
  ['srv-new', '', cf('P6', 'M6'), {}],
  ['old-name', 'renamed.example.com', cf('P7', 'M7'), {}],
  ['zz-clone', '', cf('P7', 'M7'), {}],
];

const mainHost = (rows: [string, string, object, object][]) =>
  `${MAIN_HOST_HEADER}\n${rows.map(([h, ahv, c, f]) => `${h},inv1,Org A,2024-09-01 00:00:00+00,${ahv},${csvJson(c)},${csvJson(f)}\n`).join('')}`;

function writeLake(ship: string): void {
  writeTarball(ship, '2024-09-01', {
    'job_host_summary.csv': `${JHS_HEADER}\n${JHS.map(([h, ahv, ok, job, tpl, org], i) => `${i + 1},${HOUR(i + 1)},x,${h},${ahv},0,0,${ok},0,0,0,2024-09-01 00:30:00+00,${job},${tpl},${org}\n`).join('')}`,
    'main_jobevent.csv': `${EVENT_HEADER}\n1,web-a,ansible.builtin.ping,,,,1.5,1\n2,web-b,ansible.builtin.ping,,,,2.5,2\n3,web-b,ansible.builtin.ping,,,,1,5\n4,db1,ansible.builtin.ping,,,,1,1\n`,
    'main_host.csv': mainHost([['srv-old', '', cf('P6', 'M6'), {}]]),
  });
  const audit = (h: number, host: string, facts: object, events: string[], runs: number) =>
    `${HOUR(h)},${host},${csvJson(facts)},${csvJson({ device_type: 'vm' })},${csvJson(events)},${runs},2024-09-01 16:59:00+00,9,discover,Org A\n`;
  writeTarball(ship, '2024-09-01', { 'main_indirectmanagednodeaudit.csv': `${AUDIT_HEADER}\n${audit(17, 'web-b', { serial: 'X' }, ['vmware.vmware_rest.vcenter_vm_info'], 2)}${audit(18, 'sw1', {}, [], 1)}` }, { index: 1 });
  writeTarball(ship, '2024-09-02', { 'main_host.csv': mainHost(MAIN_HOST) });
  // October: main_host names no machine id, so no host has a serial: the reference changes nothing.
  writeTarball(ship, '2024-10-01', {
    'job_host_summary.csv': `${JHS_HEADER}\n1,2024-10-01 01:00:00+00,x,h1,,0,0,2,0,0,0,2024-10-01 00:30:00+00,1,deploy,Org A\n2,2024-10-01 02:00:00+00,x,h2,,0,0,1,0,0,0,2024-10-01 00:30:00+00,1,deploy,Org A\n`,
    'main_host.csv': mainHost([['h1', '', { ansible_product_serial: 'S' }, { os: 'RHEL' }], ['h2', '', { ansible_product_serial: 'S' }, {}]]),
  });
  // July: the crafted lake of the newer sheets (@tally/testkit indirect-lake.ts).
  writeIndirectLake(ship);
}

let ship: string;
beforeAll(() => {
  ship = mkdtempSync(join(tmpdir(), 'tally-ccspexp-'));
  writeLake(ship);
});
afterAll(() => rmSync(ship, { recursive: true, force: true }));

const headers = (ws: ExcelJS.Worksheet) => (ws.getRow(1).values as unknown[]).slice(1);
function table(ws: ExcelJS.Worksheet, width: number): unknown[][] {
  const out: unknown[][] = [];
  for (let r = 2; r <= ws.rowCount; r++) out.push(Array.from({ length: width }, (_, i) => ws.getRow(r).getCell(i + 1).value ?? null));
  return out;
}

async function build(type: 'CCSP' | 'CCSPv2', deduplicator: CcspDeduplicator, sheets: readonly string[], month = '2024-09') {
  const { reportPeriod: _, ...params } = reportParams({ reportPeriod: '', pricePerNode: 10, sheets, now: new Date(Date.UTC(2024, 9, 2)), deduplicator });
  const res = await buildCcspReport({ type, storage: new DirectoryStorage({ base: ship }), period: { month }, params, force: true });
  expect(res.status).toBe('written');
  return readWorkbook(join(ship, res.name));
}

const SHEETS = ['ccsp_summary', 'managed_nodes', 'indirectly_managed_nodes', 'inventory_scope', 'usage_by_modules'];
const ip = (m: string) => `{"ansible_machine_id": ["${m.split('/')[1]}"], "ansible_product_serial": ["${m.split('/')[0]}"]}`;

describe('ccsp-experimental (serial/machine id dedup from main_host)', () => {
  let wb: ExcelJS.Workbook;
  beforeAll(async () => {
    wb = await build('CCSPv2', 'ccsp-experimental', SHEETS);
  }, 60_000);

  it('Usage Reporting counts the merged hosts: 10 where the default counts 15', async () => {
    expect(wb.getWorksheet('Usage Reporting')!.getCell('G7').value).toBe(10);
    const plain = await build('CCSPv2', 'ccsp', SHEETS);
    expect(plain.getWorksheet('Usage Reporting')!.getCell('G7').value).toBe(15);
    const mn = plain.getWorksheet('Managed nodes')!;
    expect(headers(mn)).toEqual(MANAGED_NODES_HEADERS);
    expect(mn.rowCount).toBe(16);
    expect(headers(plain.getWorksheet('Inventory Scope')!)).toEqual(INVENTORY_SCOPE_HEADERS);
    expect(headers(plain.getWorksheet('Indirectly Managed nodes')!)).toEqual(INDIRECT_NODES_HEADERS);
  }, 60_000);

  it('Managed nodes: merged records with the four extra columns', () => {
    const ws = wb.getWorksheet('Managed nodes')!;
    expect(headers(ws)).toEqual([...MANAGED_NODES_HEADERS, ...FACTS_HEADERS, ...DEDUP_HEADERS]);
    expect(table(ws, 10)).toEqual([
      ['app1', 1, 1, 1, at(6), at(6), ip('P4/M4'), '{}', '["app1"]', 1],
      ['app2', 1, 1, 1, at(7), at(7), ip('P5/M4'), '{}', '["app2"]', 1],
      // a blank serial is left out of the facts cell ('' as in merge_json_sets) but made the serial '/M9'
      ['blank1', 1, 2, 2, at(10), at(11), '{"ansible_machine_id": ["M9"]}', '{}', '["blank1", "blank2"]', 2],
      ['db1', 1, 1, 1, at(4), at(4), ip('P2/M2'), '{}', '["db1"]', 1],
      ['db2', 1, 1, 1, at(5), at(5), ip('P2/M3'), '{}', '["db2"]', 1],
      ['gone', 1, 1, 4, at(16), at(16), '{}', '{}', '["gone"]', 1],
      ['na1', 1, 2, 2, at(8), at(9), '{}', '{}', '["na1", "na2"]', 2],
      ['renamed.example.com', 1, 2, 2, at(14), at(15), ip('P7/M7'), '{}', '["renamed.example.com", "zz-clone"]', 2],
      ['srv-new', 1, 2, 2, at(12), at(13), ip('P6/M6'), '{}', '["srv-new", "srv-old"]', 2],
      ['web-a', 2, 3, 6, at(1), at(3), ip('P1/M1'), '{"os": ["Fedora", "RHEL"]}', '["web-a", "web-b"]', 2],
    ]);
  });

  it('Indirectly Managed nodes: INDIRECT hosts are renamed too, keep their own facts, and get the two name columns', () => {
    const ws = wb.getWorksheet('Indirectly Managed nodes')!;
    expect(headers(ws)).toEqual([...INDIRECT_NODES_HEADERS, ...DEDUP_HEADERS]);
    const rows = table(ws, 12).map((r) => [r[0], r[2], r[3], r[6], r[10], r[11]]);
    expect(rows).toEqual([
      ['sw1', 1, 1, '{}', '["sw1"]', 1],
      ['web-a', 1, 2, '{"serial": ["X"]}', '["web-b"]', 1],
    ]);
  });

  it('Inventory Scope: main_host merged the same way, with the two name columns', () => {
    const ws = wb.getWorksheet('Inventory Scope')!;
    expect(headers(ws)).toEqual([...INVENTORY_SCOPE_HEADERS, ...DEDUP_HEADERS]);
    expect(table(ws, 8).map((r) => [r[0], r[4], r[6], r[7]])).toEqual([
      ['app1', ip('P4/M4'), '["app1"]', 1],
      ['app2', ip('P5/M4'), '["app2"]', 1],
      ['blank1', '{"ansible_machine_id": ["M9"]}', '["blank1", "blank2"]', 2],
      ['db1', ip('P2/M2'), '["db1"]', 1],
      ['db2', ip('P2/M3'), '["db2"]', 1],
      ['na1', '{}', '["na1", "na2"]', 2],
      ['renamed.example.com', ip('P7/M7'), '["renamed.example.com", "zz-clone"]', 2],
      ['srv-new', ip('P6/M6'), '["srv-new", "srv-old"]', 2],
      ['web-a', ip('P1/M1'), '["web-a", "web-b"]', 2],
    ]);
  });

  it('Usage by modules: events follow the renamed hosts', () => {
    // web-a and web-b are one node now: 2 unique nodes (3 without the dedup), 4 host-job pairs
    expect(table(wb.getWorksheet('Usage by modules')!, 5)).toEqual([['ansible.builtin.ping', 2, 4, 4, 6]]);
  });

  it('per-organization sheets get the two name columns; the organization-details Managed nodes none', async () => {
    const byOrg = await build('CCSPv2', 'ccsp-experimental', ['ccsp_summary', 'managed_nodes', 'managed_nodes_by_organizations']);
    const mn = byOrg.getWorksheet('Managed nodes')!;
    expect(headers(mn)).toEqual([...MANAGED_NODES_HEADERS, 'Org A', 'Org B']);
    const orgA = byOrg.getWorksheet('Org A')!;
    expect(headers(orgA)).toEqual([...ORG_SHEET_HEADERS, ...DEDUP_HEADERS]);
    const rowsA = table(orgA, 7);
    // DIRECT web-a job 1, web-b job 2 and the INDIRECT web-b job 9: 3 rows, 2 + 3 + 2 task runs
    expect(rowsA.find((r) => r[0] === 'web-a')).toEqual(['web-a', 3, 7, at(1), at(17), '["web-a", "web-b"]', 2]);
    expect(rowsA.find((r) => r[0] === 'sw1')).toEqual(['sw1', 1, 1, at(18), at(18), '["sw1"]', 1]);
    expect(table(byOrg.getWorksheet('Org B')!, 7)).toEqual([['web-a', 1, 1, at(3), at(3), '["web-b"]', 1]]);
  }, 60_000);

  it('without any serial in main_host nothing merges and no facts are filled; the columns are still drawn', async () => {
    const oct = await build('CCSPv2', 'ccsp-experimental', ['ccsp_summary', 'managed_nodes'], '2024-10');
    expect(oct.getWorksheet('Usage Reporting')!.getCell('G7').value).toBe(2);
    const ws = oct.getWorksheet('Managed nodes')!;
    expect(headers(ws)).toEqual([...MANAGED_NODES_HEADERS, ...FACTS_HEADERS, ...DEDUP_HEADERS]);
    expect(table(ws, 10).map((r) => r.slice(6))).toEqual([
      ['{}', '{}', '["h1"]', 1],
      ['{}', '{}', '["h2"]', 1],
    ]);
  }, 60_000);

  it('a serial with no other host merges nothing but fills every DIRECT host from main_host, with or without a serial', async () => {
    // July: web1 has the serial P1/M1 (alone), db1 (main_host_daily) only a product serial; the INDIRECT web1 row keeps its own facts.
    const jul = await build('CCSPv2', 'ccsp-experimental', ['ccsp_summary', 'managed_nodes'], '2024-07');
    expect(jul.getWorksheet('Usage Reporting')!.getCell('G7').value).toBe(2);
    expect(table(jul.getWorksheet('Managed nodes')!, 10).map((r) => [r[0], ...r.slice(6)])).toEqual([
      ['db1', '{"ansible_product_serial": ["P3"]}', '{}', '["db1"]', 1],
      ['web1', '{"ansible_machine_id": ["M1"], "ansible_product_serial": ["P1", "P2"]}', '{"ansible_distribution": ["Fedora", "RHEL"]}', '["web1"]', 1],
    ]);
  }, 60_000);

  it('CCSP (v1) Managed nodes gets the same columns and counts', async () => {
    const v1 = await build('CCSP', 'ccsp-experimental', ['managed_nodes']);
    const usage = v1.getWorksheet('Usage Reporting')!;
    // per organization: Org A's 15 host names are 10 nodes; Org B's web-b is web-a
    expect([18, 19].map((r) => [usage.getCell(`A${r}`).value, usage.getCell(`C${r}`).value])).toEqual([
      ['Org A', 10],
      ['Org B', 1],
    ]);
    const ws = v1.getWorksheet('Managed nodes')!;
    expect(headers(ws)).toEqual([...MANAGED_NODES_HEADERS, ...FACTS_HEADERS, ...DEDUP_HEADERS]);
    expect(table(ws, 10).map((r) => [r[0], r[8], r[9]])).toEqual(table(wb.getWorksheet('Managed nodes')!, 10).map((r) => [r[0], r[8], r[9]]));
  }, 60_000);
});
