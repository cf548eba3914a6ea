import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCcspReport, readWorkbook, reportParams, VALID_SHEETS } from '@tally/reports';
import { COLLECTION_HEADERS, GAP_HEADERS, TIMEDELTA_FORMAT } from '../src/collection-status-sheet.js';
import { INDIRECT_NODES_HEADERS, INFRASTRUCTURE_HEADERS } from '../src/indirect-sheets.js';
import { INVENTORY_SCOPE_HEADERS } from '../src/inventory-scope-sheet.js';
import { JOBS_HEADERS, ORG_SHEET_HEADERS, ORGANIZATIONS_HEADERS, ORGANIZATIONS_INDIRECT_HEADERS } from '../src/ccspv2.js';
import { MANAGED_NODES_HEADERS } from '../src/content-sheets.js';
import { DirectoryStorage } from '@tally/storage';
import { JHS_HEADER, STATUS_HEADER, writeCollectionsVectorLake, writeIndirectLake, writeTarball } from '@tally/testkit';
import type ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Hand-computed expectations over the crafted lakes of @tally/testkit (indirect-lake.ts).

const EVERY_SHEET = VALID_SHEETS.CCSPv2;
const NOW = new Date(Date.UTC(2024, 9, 2, 10));
const params = (sheets: readonly string[]) => {
  const { reportPeriod: _, ...rest } = reportParams({ reportPeriod: '', pricePerNode: 10, sheets, now: NOW });
  return rest;
};

let ship: string;
beforeAll(() => {
  ship = mkdtempSync(join(tmpdir(), 'tally-newer-'));
  writeIndirectLake(ship);
  writeCollectionsVectorLake(ship);
});
afterAll(() => rmSync(ship, { recursive: true, force: true }));

const at = (s: string) => new Date(`${s}Z`);
/** A gap's ends, as Dates and as epoch microseconds. */
const span = (from: string, until: string) => ({ from: at(from), until: at(until), fromUs: at(from).getTime() * 1000, untilUs: at(until).getTime() * 1000 });
const headers = (ws: ExcelJS.Worksheet, row = 1) => (ws.getRow(row).values as unknown[]).slice(1);
function table(ws: ExcelJS.Worksheet, width: number, from = 2, to = ws.rowCount): unknown[][] {
  const out: unknown[][] = [];
  for (let r = from; r <= to; r++) out.push(Array.from({ length: width }, (_, i) => ws.getRow(r).getCell(i + 1).value ?? null));
  return out;
}

async function build(type: 'CCSP' | 'CCSPv2', month: string, sheets: readonly string[] = EVERY_SHEET) {
  const storage = new DirectoryStorage({ base: ship });
  const res = await buildCcspReport({ type, storage, period: { month }, params: params(sheets), force: true });
  expect(res.status).toBe('written');
  return { res, wb: await readWorkbook(join(ship, res.name)) };
}

describe('CCSPv2 with every sheet, July 2024 (DIRECT, INDIRECT, main_host, collection status)', () => {
  let wb: ExcelJS.Workbook;
  let gaps: unknown;
  beforeAll(async () => {
    const built = await build('CCSPv2', '2024-07');
    wb = built.wb;
    gaps = built.res.gaps;
  }, 60_000);

  it('draws the sheets in the newest order, organizations before Data collection status', () => {
    expect(wb.worksheets.map((w) => w.name)).toEqual([
      'Usage Reporting',
      'Jobs',
      'Managed nodes',
      'Indirectly Managed nodes',
      'Inventory Scope',
      'Infrastructure Summary',
      'Usage by organizations',
      'Usage by collections',
      'Usage by roles',
      'Usage by modules',
      'Org A',
      'Org B',
      'Data collection status',
    ]);
  });

  it('Usage Reporting and Managed nodes count DIRECT rows only', () => {
    expect(wb.getWorksheet('Usage Reporting')!.getCell('G7').value).toBe(2); // web1, db1: not sw1, sw2
    const mn = wb.getWorksheet('Managed nodes')!;
    expect(headers(mn).slice(0, 6)).toEqual(MANAGED_NODES_HEADERS);
    expect(table(mn, 6)).toEqual([
      ['db1', 1, 1, 5, at('2024-07-01T11:00:00'), at('2024-07-01T11:00:00')],
      ['web1', 1, 2, 4, at('2024-07-01T10:00:00'), at('2024-07-02T10:00:00')],
    ]);
  });

  it('Jobs counts DIRECT and INDIRECT rows; the audit of a tarball with job host summaries does not count', () => {
    const ws = wb.getWorksheet('Jobs')!;
    expect(headers(ws)).toEqual(JOBS_HEADERS);
    expect(table(ws, 8)).toEqual([
      ['deploy', 'Org A', 2, 1, 2, 4, at('2024-07-01T09:59:00'), at('2024-07-02T09:59:00')],
      ['discover', 'Org A', 1, 3, 3, 7, at('2024-07-01T11:59:00'), at('2024-07-01T11:59:00')],
      ['backup', 'Org B', 1, 1, 1, 5, at('2024-07-01T10:59:00'), at('2024-07-01T10:59:00')],
      ['discover', 'Org B', 1, 1, 1, 3, at('2024-07-03T08:59:00'), at('2024-07-03T08:59:00')],
    ]);
  });

  it('Indirectly Managed nodes: one row per INDIRECT host, sets as sorted JSON lists, facts per key', () => {
    const ws = wb.getWorksheet('Indirectly Managed nodes')!;
    expect(headers(ws)).toEqual(INDIRECT_NODES_HEADERS);
    expect(table(ws, 10)).toEqual([
      [
        'sw1', 2, 2, 7, at('2024-07-01T12:00:00'), at('2024-07-03T09:00:00'),
        '{"serial": ["S1", "S1b"]}',
        '{"device_type": ["ios", "nxos"], "infra_bucket": ["switches"], "infra_type": ["network"]}',
        '["INDIRECT"]',
        '["cisco.ios.ios_command", "cisco.ios.ios_facts", "cisco.nxos.nxos_facts"]',
      ],
      [
        'sw2', 1, 1, 2, at('2024-07-01T12:01:00'), at('2024-07-01T12:01:00'),
        '{"serial": ["S2"]}',
        '{"device_type": ["ios"], "infra_bucket": ["switches"], "infra_type": ["network"]}',
        '["INDIRECT"]',
        '["cisco.ios.ios_command"]',
      ],
      ['web1', 1, 1, 1, at('2024-07-01T12:02:00'), at('2024-07-01T12:02:00'), '{}', '{"device_type": ["vm"]}', '["INDIRECT"]', '["debug", "vmware.vmware_rest.vcenter_vm_info"]'],
    ]);
    expect(ws.getRow(1).height).toBe(25);
    expect(ws.getCell('A1').font).toMatchObject({ name: 'Arial', size: 10, bold: true });
    expect(ws.getColumn(1).width).toBe(40);
    expect(ws.getColumn(6).width).toBe(20);
  });

  it('Inventory Scope: main_host per host and install, main_host_daily only where main_host is empty', () => {
    const ws = wb.getWorksheet('Inventory Scope')!;
    expect(headers(ws)).toEqual(INVENTORY_SCOPE_HEADERS);
    expect(table(ws, 6)).toEqual([
      ['10.0.0.9', null, '["No organization name"]', '["inv1"]', '{}', '{}'],
      ['db1', at('2024-07-11T08:00:00'), '["Org B"]', '["inv3"]', '{"ansible_product_serial": ["P3"]}', '{}'],
      [
        'web1', at('2024-07-02T10:00:00'), '["Org A", "Org B"]', '["inv1", "inv2"]',
        '{"ansible_machine_id": ["M1"], "ansible_product_serial": ["P1", "P2"]}',
        '{"ansible_distribution": ["Fedora", "RHEL"]}',
      ],
    ]);
  });

  it('Infrastructure Summary: merged type rows, bucket rows, device rows; a missing infra_type is Unknown', () => {
    const ws = wb.getWorksheet('Infrastructure Summary')!;
    expect(headers(ws)).toEqual(INFRASTRUCTURE_HEADERS);
    expect(table(ws, 5)).toEqual([
      ['Unknown', 'Unknown', 'Unknown', null, null],
      [null, 'Unknown', null, null, null],
      [null, null, 'vm', 1, 1],
      ['network', 'network', 'network', null, null],
      [null, 'switches', null, null, null],
      [null, null, 'ios', 2, 2],
      [null, null, 'nxos', 1, 1],
    ]);
    expect(ws.model.merges).toEqual(['A2:C2', 'A5:C5']);
    for (const row of [1, 2, 3, 5, 6]) expect(ws.getRow(row).height).toBe(25);
    expect(ws.getCell('A2').font).toMatchObject({ bold: true });
    expect(ws.getCell('A2').alignment).toMatchObject({ horizontal: 'left' });
    expect(ws.getCell('C4').font).toMatchObject({ name: 'Arial', size: 10 });
    expect(ws.getCell('C4').font?.bold).toBeFalsy();
    expect(ws.getColumn(5).width).toBe(20);
  });

  it('Usage by organizations gains the two indirect columns; job and task runs count every row', () => {
    const ws = wb.getWorksheet('Usage by organizations')!;
    expect(headers(ws)).toEqual([...ORGANIZATIONS_HEADERS.slice(0, 4), ...ORGANIZATIONS_INDIRECT_HEADERS, ORGANIZATIONS_HEADERS[4]]);
    expect(table(ws, 7)).toEqual([
      ['Org A', 3, 1, 2, 3, 3, 11],
      ['Org B', 2, 1, 1, 1, 1, 8],
    ]);
  });

  it('Usage by collections holds the indirect nodes\' collections (no events this month); roles and modules a header', () => {
    expect(table(wb.getWorksheet('Usage by collections')!, 5)).toEqual([
      ['cisco.ios', 2, 3, 9, 0],
      ['cisco.nxos', 1, 1, 3, 0],
      ['vmware.vmware_rest', 1, 1, 1, 0],
    ]);
    expect(wb.getWorksheet('Usage by roles')!.rowCount).toBe(1);
    expect(wb.getWorksheet('Usage by modules')!.rowCount).toBe(1);
  });

  it('the per-organization sheets count DIRECT and INDIRECT rows', () => {
    const a = wb.getWorksheet('Org A')!;
    expect(headers(a)).toEqual(ORG_SHEET_HEADERS);
    expect(table(a, 5)).toEqual([
      ['sw1', 1, 4, at('2024-07-01T12:00:00'), at('2024-07-01T12:00:00')],
      ['sw2', 1, 2, at('2024-07-01T12:01:00'), at('2024-07-01T12:01:00')],
      ['web1', 3, 5, at('2024-07-01T10:00:00'), at('2024-07-02T10:00:00')],
    ]);
    expect(table(wb.getWorksheet('Org B')!, 5)).toEqual([
      ['db1', 1, 5, at('2024-07-01T11:00:00'), at('2024-07-01T11:00:00')],
      ['sw1', 1, 3, at('2024-07-03T09:00:00'), at('2024-07-03T09:00:00')],
    ]);
    // The Managed nodes sheet's organization columns stay DIRECT: Org B's sw1 is not there.
    expect(table(wb.getWorksheet('Managed nodes')!, 1).flat()).toEqual(['db1', 'web1']);
  });

  it('Data collection status: the gaps at the start, middle and end, then every collection with its fill', () => {
    const ws = wb.getWorksheet('Data collection status')!;
    expect(headers(ws)).toEqual(GAP_HEADERS);
    expect(table(ws, 4, 2, 5)).toEqual([
      ['job_host_summary.csv', at('2024-07-04T00:00:00'), at('2024-07-10T00:00:00'), 518_400],
      ['job_host_summary.csv', at('2024-07-11T00:00:00'), at('2024-08-01T00:00:00'), 1_814_400],
      ['main_indirectmanagednodeaudit.csv', at('2024-07-01T00:00:00'), at('2024-07-01T06:00:00'), 21_600],
      ['main_indirectmanagednodeaudit.csv', at('2024-07-04T00:00:00'), at('2024-08-01T00:00:00'), 2_419_200],
    ]);
    expect(table(ws, 7, 6, 6)).toEqual([[null, null, null, null, null, null, null]]);
    expect(headers(ws, 7)).toEqual(COLLECTION_HEADERS);
    const rows = table(ws, 6, 8);
    expect(rows).toEqual([
      [at('2024-07-02T00:10:00'), at('2024-07-01T00:00:00'), at('2024-07-02T00:00:00'), 'job_host_summary.csv', 'ok', 0.5],
      [at('2024-07-02T00:10:05'), at('2024-07-01T06:00:00'), at('2024-07-02T00:00:00'), 'main_indirectmanagednodeaudit.csv', 'ok', 1.5],
      [at('2024-07-03T00:10:00'), at('2024-07-02T00:00:00'), at('2024-07-03T00:00:00'), 'job_host_summary.csv', 'ok', 0.5],
      [at('2024-07-03T00:10:05'), at('2024-07-02T00:00:00'), at('2024-07-03T00:00:00'), 'main_indirectmanagednodeaudit.csv', 'ok', 0.5],
      [at('2024-07-04T00:10:00'), at('2024-07-03T00:00:00'), at('2024-07-04T00:00:00'), 'job_host_summary.csv', 'ok', 0.5],
      [at('2024-07-04T00:10:05'), at('2024-07-03T00:00:00'), at('2024-07-04T00:00:00'), 'main_indirectmanagednodeaudit.csv', 'ok', 0.5],
      [at('2024-07-10T00:10:00'), at('2024-07-04T00:00:00'), at('2024-07-10T00:00:00'), 'job_host_summary.csv', 'failed', 2],
      [at('2024-07-11T00:10:00'), at('2024-07-10T00:00:00'), at('2024-07-11T00:00:00'), 'job_host_summary.csv', 'ok', 0.5],
    ]);
    // Time since the previous collection of the file, in days; the median is 1 day: 6 days is red.
    const diffs = Array.from({ length: 8 }, (_, i) => ws.getCell(8 + i, 7));
    // exceljs reads a [hh]:mm:ss cell back as a date from its 1899-12-30 epoch.
    const days = (v: unknown) => (v instanceof Date ? (v.getTime() - Date.UTC(1899, 11, 30)) / 86_400_000 : v);
    expect(diffs.map((c) => days(c.value))).toEqual([null, null, 1, 1, 1, 1, 6, 1]);
    for (const c of diffs.slice(2)) expect(c.numFmt).toBe(TIMEDELTA_FORMAT);
    const argb = (c: ExcelJS.Cell) => (c.fill as ExcelJS.FillPattern | undefined)?.fgColor?.argb;
    expect(diffs.map(argb)).toEqual([undefined, undefined, '0092D050', '0092D050', '0092D050', '0092D050', '00FF0000', '0092D050']);
    // No styling in these tables (the reference writes plain cells).
    expect(ws.getCell('A1').font?.bold).toBeFalsy();
    expect(ws.getColumn(1).width).toBe(36);
    expect(ws.getColumn(4).width).toBe(36);
    expect(ws.getColumn(7).width).toBe(20);
  });

  it('returns the gaps over an hour, for the report command to warn about', () => {
    expect(gaps).toEqual([
      { fileName: 'job_host_summary.csv', ...span('2024-07-04T00:00:00', '2024-07-10T00:00:00'), seconds: 518_400 },
      { fileName: 'job_host_summary.csv', ...span('2024-07-11T00:00:00', '2024-08-01T00:00:00'), seconds: 1_814_400 },
      { fileName: 'main_indirectmanagednodeaudit.csv', ...span('2024-07-01T00:00:00', '2024-07-01T06:00:00'), seconds: 21_600 },
      { fileName: 'main_indirectmanagednodeaudit.csv', ...span('2024-07-04T00:00:00', '2024-08-01T00:00:00'), seconds: 2_419_200 },
    ]);
  });
});

describe('Usage by collections attributes indirect nodes (the reference unit-test vector)', () => {
  it('with indirectly_managed_nodes selected: col.a (3, 4, 28, 180), col.b (1, 1, 5, 50), col.c (1, 1, 6, 0)', async () => {
    const { wb } = await build('CCSPv2', '2024-08', ['usage_by_collections', 'indirectly_managed_nodes']);
    expect(table(wb.getWorksheet('Usage by collections')!, 5)).toEqual([
      ['col.a', 3, 4, 28, 180],
      ['col.b', 1, 1, 5, 50],
      ['col.c', 1, 1, 6, 0],
    ]);
  });

  it('without it the events alone count, in CCSP (v1) too', async () => {
    const { wb } = await build('CCSP', '2024-08', ['usage_by_collections']);
    expect(table(wb.getWorksheet('Usage by collections')!, 5)).toEqual([
      ['col.a', 2, 2, 18, 180],
      ['col.b', 1, 1, 5, 50],
    ]);
  });

  it('CCSP (v1) draws Indirectly Managed nodes and Inventory Scope after Managed nodes, no Infrastructure Summary', async () => {
    const { wb } = await build('CCSP', '2024-07', ['ccsp_summary', 'managed_nodes', 'indirectly_managed_nodes', 'inventory_scope', 'usage_by_collections']);
    expect(wb.worksheets.map((w) => w.name)).toEqual(['Usage Reporting', 'Managed nodes', 'Indirectly Managed nodes', 'Inventory Scope', 'Usage by collections']);
    expect(table(wb.getWorksheet('Indirectly Managed nodes')!, 1).flat()).toEqual(['sw1', 'sw2', 'web1']);
  });
});

describe('edge periods', () => {
  it('INDIRECT rows alone make a report; no DIRECT rows: quantity 0, Managed nodes a header', async () => {
    const lake = mkdtempSync(join(tmpdir(), 'tally-indirect-only-'));
    try {
      writeTarball(lake, '2024-09-02', {
        'main_indirectmanagednodeaudit.csv':
          'created,host_name,canonical_facts,facts,events,task_runs,job_created,job_remote_id,job_template_name,organization_name\n' +
          '2024-09-02 10:00:00+00,sw9,{},{},[],2,2024-09-02 09:59:00+00,5,t,Org C\n',
      });
      const storage = new DirectoryStorage({ base: lake });
      const res = await buildCcspReport({ type: 'CCSPv2', storage, period: { month: '2024-09' }, params: params(EVERY_SHEET), force: true });
      expect(res.status).toBe('written');
      const wb = await readWorkbook(join(lake, res.name));
      expect(wb.getWorksheet('Usage Reporting')!.getCell('G7').value).toBeNull();
      expect(wb.getWorksheet('Managed nodes')!.rowCount).toBe(1);
      expect(table(wb.getWorksheet('Indirectly Managed nodes')!, 4)).toEqual([['sw9', 1, 1, 2]]);
      expect(table(wb.getWorksheet('Infrastructure Summary')!, 5)).toEqual([
        ['Unknown', 'Unknown', 'Unknown', null, null],
        [null, 'Unknown', null, null, null],
        [null, null, 'Unknown', 1, 1],
      ]);
      // No data_collection_status.csv in the period: both headers, nothing else.
      const dcs = wb.getWorksheet('Data collection status')!;
      expect(headers(dcs)).toEqual(GAP_HEADERS);
      expect(headers(dcs, 3)).toEqual(COLLECTION_HEADERS);
      expect(dcs.rowCount).toBe(3);
    } finally {
      rmSync(lake, { recursive: true, force: true });
    }
  });

  it('no INDIRECT rows: "No indirect nodes found", an Indirectly Managed nodes header alone', async () => {
    const lake = mkdtempSync(join(tmpdir(), 'tally-direct-only-'));
    try {
      writeTarball(lake, '2024-09-02', {
        'job_host_summary.csv': `${JHS_HEADER}\n1,2024-09-02 10:00:00+00,x,a1,,0,0,1,0,0,0,2024-09-02 09:59:00+00,5,t,Org C\n`,
        'data_collection_status.csv': `${STATUS_HEADER}\n2024-09-03 00:10:00+00,2024-09-01 00:00:00+00,2024-10-01 00:00:00+00,job_host_summary.csv,ok,1\n`,
      });
      const storage = new DirectoryStorage({ base: lake });
      const res = await buildCcspReport({ type: 'CCSPv2', storage, period: { month: '2024-09' }, params: params(EVERY_SHEET), force: true });
      const book = await readWorkbook(join(lake, res.name));
      const infra = book.getWorksheet('Infrastructure Summary')!;
      expect(infra.getCell('A1').value).toBe('No indirect nodes found');
      expect(infra.getCell('A1').font).toMatchObject({ name: 'Arial', size: 10 });
      expect(infra.rowCount).toBe(1);
      const ind = book.getWorksheet('Indirectly Managed nodes')!;
      expect(headers(ind)).toEqual(INDIRECT_NODES_HEADERS);
      expect(ind.rowCount).toBe(1);
      // A collection covering the whole month: no gap; its time since the previous one is empty.
      const dcs = book.getWorksheet('Data collection status')!;
      expect(dcs.getCell('A2').value).toBeNull();
      expect(headers(dcs, 3)).toEqual(COLLECTION_HEADERS);
      expect(dcs.getCell('G4').value).toBeNull();
      expect(res.gaps).toEqual([]);
    } finally {
      rmSync(lake, { recursive: true, force: true });
    }
  });

  it('a CSV is read only when a selected sheet needs it (an unreadable job_host_summary.csv is not touched)', async () => {
    const lake = mkdtempSync(join(tmpdir(), 'tally-needs-'));
    try {
      writeTarball(lake, '2024-09-02', {
        'job_host_summary.csv': 'id,bad-name\n1,2\n',
        'main_host.csv': 'host_name,inventory_name,organization_name,last_automation,ansible_host_variable,canonical_facts,facts\nm1,i1,Org C,,,{},{}\n',
      }, { verbatim: ['job_host_summary.csv'] });
      const storage = new DirectoryStorage({ base: lake });
      const scope = await buildCcspReport({ type: 'CCSPv2', storage, period: { month: '2024-09' }, params: params(['inventory_scope']), force: true });
      expect(scope.failures).toEqual([]);
      expect(table((await readWorkbook(join(lake, scope.name))).getWorksheet('Inventory Scope')!, 1)).toEqual([['m1']]);
      const usage = await buildCcspReport({ type: 'CCSPv2', storage, period: { month: '2024-09' }, params: params(['inventory_scope', 'managed_nodes']), force: true });
      expect(usage.failures.map((f) => f.file)).toEqual(['data/2024/09/02/u-1-2024-09-02-000000+0000-2024-09-02-235959+0000-0.tar.gz']);
      // Refused as every malformed member is: named with its member and line.
      expect(usage.failures[0]).toMatchObject({ member: 'job_host_summary.csv', line: 1 });
    } finally {
      rmSync(lake, { recursive: true, force: true });
    }
  });
});
