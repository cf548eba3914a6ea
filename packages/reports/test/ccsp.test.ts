import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCcspReport, reportParams } from '@tally/reports';
import { CCSP_HEADERS } from '../src/ccsp.js';
import { CCSPV2_HEADERS, JOBS_HEADERS, ORG_SHEET_HEADERS, ORGANIZATIONS_HEADERS } from '../src/ccspv2.js';
import { MANAGED_NODES_HEADERS } from '../src/content-sheets.js';
import { DirectoryStorage } from '@tally/storage';
import { schemaCsv } from '@tally/testkit';
import { metricsUtilityTarballs, parseCsv } from '@tally/testkit';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobs, managedNodes, orgQuantities, orgSheet, type Rolled, rollUp, usageByOrganizations } from './expected.js';

const ALL_SHEETS = ['ccsp_summary', 'jobs', 'managed_nodes', 'managed_nodes_by_organizations', 'usage_by_organizations', 'usage_by_collections', 'usage_by_roles', 'usage_by_modules'];
const NOW = new Date(Date.UTC(2024, 9, 2, 10));
const CONTENT_SHEETS = ['Usage by collections', 'Usage by roles', 'Usage by modules'];
const CONTENT_KEYS = ['Collection name', 'Role name', 'Module name'];
const params = (sheets: string[] = ALL_SHEETS, organizationFilter?: string[]) => {
  const { reportPeriod: _, ...rest } = reportParams({
    reportPeriod: '',
    pricePerNode: 11.55,
    sku: 'MCT4022MO',
    skuDescription: 'Red Hat Ansible Automation Platform',
    h1Heading: 'CCSP Reporting',
    companyName: 'Acme',
    email: 'ops@example.com',
    rhnLogin: 'acme-rhn',
    poNumber: '000123',
    companyBusinessLeader: 'Boss',
    companyProcurementLeader: 'Buyer',
    endUserCompanyName: 'End Co',
    endUserCity: 'Cowes',
    endUserState: 'IoW',
    endUserCountry: 'UK',
    sheets,
    organizationFilter,
    now: NOW,
  });
  return rest;
};

let ship: string;
let raw: string;
const monthDirs = new Map<string, string[]>();

beforeAll(() => {
  const { base, names } = metricsUtilityTarballs();
  ship = mkdtempSync(join(tmpdir(), 'tally-reports-'));
  cpSync(join(base, 'data'), join(ship, 'data'), { recursive: true });
  raw = join(ship, 'raw');
  names.forEach((name, i) => {
    const dir = join(raw, String(i));
    mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['xzf', join(base, name), '-C', dir], { stdio: 'ignore' });
    const month = name.slice('data/'.length, 'data/YYYY/MM'.length).replace('/', '-');
    monthDirs.set(month, [...(monthDirs.get(month) ?? []), dir]);
  });
});
afterAll(() => rmSync(ship, { recursive: true, force: true }));

async function readBook(path: string): Promise<ExcelJS.Workbook> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(path);
  return wb;
}
/** Data rows (row 2 on) as plain values. */
function table(ws: ExcelJS.Worksheet, width: number): unknown[][] {
  const out: unknown[][] = [];
  for (let r = 2; r <= ws.rowCount; r++) {
    const row = ws.getRow(r);
    out.push(Array.from({ length: width }, (_, i) => row.getCell(i + 1).value ?? null));
  }
  return out;
}
const headers = (ws: ExcelJS.Worksheet, row = 1) => (ws.getRow(row).values as unknown[]).slice(1);

describe('fixture months', () => {
  it('every fixture tarball is read into a month', () => {
    expect([...monthDirs.keys()].sort()).toEqual(['2024-02', '2024-03', '2024-04']);
    expect([...monthDirs.values()].flat()).toHaveLength(metricsUtilityTarballs().names.length);
  });

  // The fixture months' reference workbooks were made by metrics-utility 0.4, which counted unreachable hosts.
  for (const month of ['2024-02', '2024-03', '2024-04']) {
    it(`CCSP ${month}: usage reporting and managed nodes match the raw CSVs`, async () => {
      const storage = new DirectoryStorage({ base: ship });
      const res = await buildCcspReport({ type: 'CCSP', storage, period: { month }, params: params(), countUnreachableHosts: true, force: true });
      expect(res.status).toBe('written');
      expect(res.name).toBe(`reports/${month.slice(0, 4)}/${month.slice(5)}/CCSP-${month}.xlsx`);
      const rolled = rollUp(monthDirs.get(month)!);
      const wb = await readBook(join(ship, res.name));
      // The fixture months have no job events: the content sheets hold their header alone (as the newest reference).
      expect(wb.worksheets.map((w) => w.name)).toEqual(['Usage Reporting', 'Managed nodes', ...CONTENT_SHEETS]);
      for (const [i, title] of CONTENT_SHEETS.entries()) {
        const content = wb.getWorksheet(title)!;
        expect(content.rowCount).toBe(1);
        expect(headers(content)).toEqual([CONTENT_KEYS[i], 'Unique managed nodes\nautomated', 'Non-unique managed\nnodes automated', 'Number of task\nruns', 'Duration of task\nruns [seconds]']);
        expect(content.getCell('A1').font).toMatchObject({ name: 'Arial', size: 10, bold: true });
      }
      const ws = wb.getWorksheet('Usage Reporting')!;
      expect(ws.model.merges).toEqual(['A1:B1']);
      expect(ws.getCell('A1').value).toBe('CCSP Reporting');
      expect(ws.getCell('A1').fill).toMatchObject({ pattern: 'solid', fgColor: { argb: '00000000' } });
      expect(ws.getCell('A1').font).toMatchObject({ name: 'Arial', size: 17, color: { argb: '00FFFFFF' } });
      expect([2, 3, 4, 5, 6, 7, 8].map((r) => ws.getCell(`A${r}`).value)).toEqual([
        'CCSP Company Name', 'CCSP Email', 'CCSP RHN Login', 'Report Period (YYYY-MM)', 'Company Business leader ', 'Company Procurement leader ', 'Periodicity',
      ]);
      expect(ws.getCell('A2').fill).toMatchObject({ fgColor: { argb: '000000FF' } });
      expect(ws.getCell('B5').value).toBe(month);
      expect(ws.getCell('B8').value).toBe('Report is submitted monthly');
      expect(ws.getCell('A10').value).toBe('Monthly payment');
      expect(ws.getCell('B10').fill).toMatchObject({ fgColor: { argb: '0000FF00' } });
      expect(ws.getCell('A9').fill).toMatchObject({ fgColor: { argb: '00000000' } });
      expect([ws.getCell('A14').value, ws.getCell('B14').value, ws.getCell('E14').value, ws.getCell('F14').value]).toEqual(['SKU', 'SKU Description', 'Unit of Measure', 'Currency']);
      expect(ws.getCell('A14').border.top).toMatchObject({ style: 'thin' });
      expect(ws.getCell('D14').value).toBe('Term');
      expect(ws.getCell('G14').value).toBe('MSRP');
      expect(ws.getCell('G15').value).toBe('11.55'); // text, as the reference
      expect([ws.getCell('A15').value, ws.getCell('D15').value, ws.getCell('E15').value, ws.getCell('F15').value]).toEqual(['MCT4022MO', 'MONTH', 'MANAGED NODE', 'USD']);
      expect(headers(ws, 17)).toEqual(CCSP_HEADERS);
      const expected = orgQuantities(rolled);
      expect(expected.length).toBeGreaterThan(0);
      expected.forEach(([org, q], i) => {
        const r = 18 + i;
        expect(ws.getCell(`A${r}`).value).toBe(org);
        expect(ws.getCell(`C${r}`).value).toBe(q);
        expect(ws.getCell(`D${r}`).value).toBe(11.55);
        expect(ws.getCell(`D${r}`).numFmt).toBe('$#,##0.00');
        expect(ws.getCell(`E${r}`).value).toEqual({ formula: `C${r}*D${r}` });
        expect(ws.getCell(`E${r}`).numFmt).toBe('$#,##0.00');
      });
      const sumRow = 18 + expected.length;
      expect(ws.getCell(`A${sumRow}`).value).toBe('Sum of monthly payment');
      expect(ws.getCell(`E${sumRow}`).value).toEqual({ formula: `SUM(E18:E${sumRow - 1})` });
      expect(ws.getColumn(1).width).toBe(63);
      expect(ws.getColumn(3).width).toBe(15);

      const mn = wb.getWorksheet('Managed nodes')!;
      expect(headers(mn)).toEqual(MANAGED_NODES_HEADERS);
      expect(table(mn, 6)).toEqual(managedNodes(rolled));
      expect(mn.getCell('E2').numFmt).toBe('yyyy-mm-dd h:mm:ss');
      expect(mn.getColumn(1).width).toBe(40);
    });

    for (const countUnreachableHosts of [true, false]) {
    it(`CCSPv2 ${month}, ${countUnreachableHosts ? 'counting' : 'dropping'} unreachable hosts: every sheet matches the raw CSVs`, async () => {
      const storage = new DirectoryStorage({ base: ship });
      const res = await buildCcspReport({ type: 'CCSPv2', storage, period: { month }, params: params(), countUnreachableHosts, force: true });
      const rolled = rollUp(monthDirs.get(month)!, undefined, { countUnreachable: countUnreachableHosts });
      const orgs = [...new Set(rolled.map((r) => r.org))].sort();
      const wb = await readBook(join(ship, res.name));
      expect(wb.worksheets.map((w) => w.name)).toEqual(['Usage Reporting', 'Jobs', 'Managed nodes', 'Usage by organizations', ...CONTENT_SHEETS, ...orgs]);
      for (const title of CONTENT_SHEETS) expect(wb.getWorksheet(title)!.rowCount).toBe(1);
      const ws = wb.getWorksheet('Usage Reporting')!;
      expect(ws.model.merges).toEqual(['A1:B1']);
      expect(ws.getCell('H1').value).toBe('Updated: Oct 02, 2024');
      expect(ws.getCell('B5').value).toBe(month);
      expect(ws.getCell('B5').fill).toMatchObject({ fgColor: { argb: '0092D050' } });
      expect([ws.getCell('E4').value, ws.getCell('F4').value]).toEqual(['PO Number', '000123']);
      expect([ws.getCell('I2').value, ws.getCell('J2').value]).toEqual(['Grand total', { formula: 'SUM(J7:J12)' }]);
      expect(headers(ws, 6)).toEqual(CCSPV2_HEADERS);
      expect(ws.getCell('A6').border.top).toMatchObject({ style: 'medium' });
      const quantity = new Set(rolled.map((r) => r.host)).size;
      expect([ws.getCell('A7').value, ws.getCell('C7').value, ws.getCell('F7').value, ws.getCell('G7').value, ws.getCell('I7').value, ws.getCell('J7').value])
        .toEqual(['End Co', 'Cowes', 'MCT4022MO', quantity, 11.55, { formula: 'G7*I7' }]);
      expect(ws.getCell('H7').fill).toMatchObject({ fgColor: { argb: '00D4EAF3' } });
      for (let r = 8; r <= 12; r++) expect(ws.getCell(`J${r}`).value).toEqual({ formula: `G${r}*I${r}` });
      expect(ws.getCell('J12').numFmt).toBe('$#,##0.00');

      const jb = wb.getWorksheet('Jobs')!;
      expect(headers(jb)).toEqual(JOBS_HEADERS);
      expect(table(jb, 8)).toEqual(jobs(rolled));
      // Schemas 1.0/1.1 carry no job_created: first/last run stay empty.
      expect(table(jb, 8).every((r) => r[6] === null && r[7] === null)).toBe(true);

      const mn = wb.getWorksheet('Managed nodes')!;
      expect(headers(mn)).toEqual([...MANAGED_NODES_HEADERS, ...orgs]);
      const lastBy = (host: string, org: string) => {
        const rs = rolled.filter((r: Rolled) => r.host === host && r.org === org);
        return rs.length ? new Date(Math.max(...rs.map((r) => r.last.getTime()))) : null;
      };
      expect(table(mn, 6 + orgs.length)).toEqual(managedNodes(rolled).map((row) => [...row, ...orgs.map((o) => lastBy(row[0] as string, o))]));

      const uo = wb.getWorksheet('Usage by organizations')!;
      expect(headers(uo)).toEqual(ORGANIZATIONS_HEADERS);
      expect(table(uo, 5)).toEqual(usageByOrganizations(rolled));
      for (const org of orgs) {
        const os = wb.getWorksheet(org)!;
        expect(headers(os)).toEqual(ORG_SHEET_HEADERS);
        expect(table(os, 5)).toEqual(orgSheet(rolled, org));
      }
    });
    }
  }

  it('by default an unreachable host (dark only) is not a managed node; counted under TALLY_COUNT_UNREACHABLE_HOSTS', async () => {
    const storage = new DirectoryStorage({ base: ship });
    const hostsOf = async (countUnreachableHosts: boolean) => {
      const res = await buildCcspReport({ type: 'CCSP', storage, period: { month: '2024-04' }, params: params(), countUnreachableHosts, force: true });
      return table((await readBook(join(ship, res.name))).getWorksheet('Managed nodes')!, 1).map((r) => r[0]);
    };
    expect(await hostsOf(true)).toContain('my_first_test 26');
    expect(await hostsOf(false)).not.toContain('my_first_test 26');
  });

  it('CCSPv2 honours the organization filter and the sheet selection', async () => {
    const storage = new DirectoryStorage({ base: ship });
    const res = await buildCcspReport({ type: 'CCSPv2', storage, period: { month: '2024-04' }, params: params(['ccsp_summary', 'usage_by_organizations'], ['Hamble Yacht Charters']), countUnreachableHosts: true, force: true });
    const rolled = rollUp(monthDirs.get('2024-04')!, ['Hamble Yacht Charters']);
    const wb = await readBook(join(ship, res.name));
    expect(wb.worksheets.map((w) => w.name)).toEqual(['Usage Reporting', 'Usage by organizations']);
    expect(wb.getWorksheet('Usage Reporting')!.getCell('G7').value).toBe(new Set(rolled.map((r) => r.host)).size);
    expect(table(wb.getWorksheet('Usage by organizations')!, 5)).toEqual(usageByOrganizations(rolled));
  });

  it('CCSPv2 with a filter that matches nothing draws only the five blank rows', async () => {
    const storage = new DirectoryStorage({ base: ship });
    const res = await buildCcspReport({ type: 'CCSPv2', storage, period: { month: '2024-03' }, params: params(['ccsp_summary', 'managed_nodes'], ['No such org']), force: true });
    expect(res.status).toBe('written');
    const wb = await readBook(join(ship, res.name));
    const ws = wb.getWorksheet('Usage Reporting')!;
    expect(ws.getCell('J2').value).toEqual({ formula: 'SUM(J7:J11)' });
    expect(ws.getCell('G7').value).toBeNull();
    for (let r = 7; r <= 11; r++) expect(ws.getCell(`J${r}`).value).toEqual({ formula: `G${r}*I${r}` });
    expect(ws.getCell('J12').value).toBeNull();
    expect(wb.getWorksheet('Managed nodes')!.rowCount).toBe(1);
  });

  it('sorts in code-point order ("hamble 10500" after "hamble 103479")', async () => {
    const storage = new DirectoryStorage({ base: ship });
    const res = await buildCcspReport({ type: 'CCSP', storage, period: { month: '2024-04' }, params: params(), countUnreachableHosts: true, force: true });
    const hosts = table((await readBook(join(ship, res.name))).getWorksheet('Managed nodes')!, 1).map((r) => r[0] as string);
    expect(hosts.indexOf('hamble 10500')).toBeGreaterThan(hosts.indexOf('hamble 103479'));
    expect(hosts).toEqual([...hosts].sort());
  });

  it('keeps an existing report unless forced; an empty month writes nothing', async () => {
    const storage = new DirectoryStorage({ base: ship });
    const first = await buildCcspReport({ type: 'CCSP', storage, period: { month: '2024-03' }, params: params(), force: true });
    expect(first.status).toBe('written');
    const again = await buildCcspReport({ type: 'CCSP', storage, period: { month: '2024-03' }, params: params() });
    expect(again.status).toBe('skipped');
    const empty = await buildCcspReport({ type: 'CCSP', storage, period: { month: '2023-01' }, params: params() });
    expect(empty).toMatchObject({ status: 'empty', message: 'No billing data for month 2023-01' });
    expect(existsSync(join(ship, 'reports/2023/01'))).toBe(false);
  });

  it('a since/until range names the file in the until month', async () => {
    const storage = new DirectoryStorage({ base: ship });
    const res = await buildCcspReport({
      type: 'CCSP', storage, period: { since: new Date('2024-02-28T00:00:00Z'), until: new Date('2024-03-06T00:00:00Z') }, params: params(), countUnreachableHosts: true, force: true,
    });
    expect(res.name).toBe('reports/2024/03/CCSP-2024-02-28--2024-03-06.xlsx');
    const wb = await readBook(join(ship, res.name));
    expect(wb.getWorksheet('Usage Reporting')!.getCell('B5').value).toBe('2024-02-28, 2024-03-06');
    const inRange = [...monthDirs.values()].flat().filter((d) => {
      const name = metricsUtilityTarballs().names[Number(d.split('/').pop())]!;
      const day = name.slice(5, 15).replace(/\//g, '-');
      return day >= '2024-02-28' && day <= '2024-03-06';
    });
    expect(table(wb.getWorksheet('Managed nodes')!, 6)).toEqual(managedNodes(rollUp(inRange)));
  });
});

describe('schema 1.2 (job_created) and missing keys', () => {
  it('fills first/last run and groups a missing template last within its organization', async () => {
    const base = mkdtempSync(join(tmpdir(), 'tally-jobs-'));
    try {
      const src = join(base, 'src');
      mkdirSync(src);
      writeFileSync(join(src, 'config.json'), JSON.stringify({ install_uuid: 'u-2' }));
      writeFileSync(
        join(src, 'job_host_summary.csv'),
        'id,created,modified,host_name,host_remote_id,ansible_host_variable,ansible_connection_variable,changed,dark,failures,ok,processed,skipped,failed,ignored,rescued,job_created,job_remote_id,job_template_remote_id,job_template_name,inventory_remote_id,inventory_name,organization_remote_id,organization_name,project_remote_id,project_name\n' +
          '1,2024-07-02 10:00:05+00,x,n1,1,,,0,0,0,2,1,0,f,0,0,2024-07-02 10:00:00+00,11,1,b,1,i,1,Z,1,p\n' +
          '2,2024-07-03 10:00:05+00,x,n2,2,,,0,0,0,1,1,0,f,0,0,2024-07-03 10:00:00+00,12,1,,1,i,1,Z,1,p\n' +
          '3,2024-07-04 10:00:05+00,x,n1,1,,,0,0,0,1,1,1,f,0,0,2024-07-04 09:00:00+00,13,1,a,1,i,1,Z,1,p\n' +
          '4,2024-07-04 11:00:05+00,x,n3,3,,,0,1,0,0,1,0,f,0,0,2024-07-04 11:00:00+00,14,1,a,1,i,,,1,p\n' +
          '5,2024-07-05 11:00:05+00,x,n1,1,,,0,0,0,3,1,0,f,0,0,2024-07-05 11:00:00+00,15,1,b,1,i,1,Z,1,p\n',
      );
      const day = join(base, 'ship/data/2024/07/05');
      mkdirSync(day, { recursive: true });
      execFileSync('tar', ['czf', join(day, 'u-2-2024-07-05-000000+0000-2024-07-06-000000+0000-0.tar.gz'), '-C', src, '.']);
      const storage = new DirectoryStorage({ base: join(base, 'ship') });
      const res = await buildCcspReport({ type: 'CCSPv2', storage, period: { month: '2024-07' }, params: params(['jobs', 'usage_by_organizations']), countUnreachableHosts: true });
      const wb = await readBook(join(base, 'ship', res.name));
      const d = (s: string) => new Date(`${s}Z`);
      expect(table(wb.getWorksheet('Jobs')!, 8)).toEqual([
        ['a', 'No organization name', 1, 1, 1, 1, d('2024-07-04T11:00:00'), d('2024-07-04T11:00:00')],
        ['a', 'Z', 1, 1, 1, 2, d('2024-07-04T09:00:00'), d('2024-07-04T09:00:00')],
        ['b', 'Z', 2, 1, 2, 5, d('2024-07-02T10:00:00'), d('2024-07-05T11:00:00')],
        [null, 'Z', 1, 1, 1, 1, d('2024-07-03T10:00:00'), d('2024-07-03T10:00:00')],
      ]);
      expect(wb.getWorksheet('Jobs')!.getCell('G2').numFmt).toBe('yyyy-mm-dd h:mm:ss');
      expect(table(wb.getWorksheet('Usage by organizations')!, 5)).toEqual([
        ['No organization name', 1, 1, 1, 1],
        ['Z', 4, 2, 4, 8],
      ]);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

describe('content usage (main_jobevent)', () => {
  it('maps event hosts to ansible_host and fills collection/role/module sheets', async () => {
    const base = mkdtempSync(join(tmpdir(), 'tally-events-'));
    try {
      const src = join(base, 'src');
      mkdirSync(src);
      writeFileSync(join(src, 'config.json'), JSON.stringify({ install_uuid: 'u-1' }));
      // The rows name a few columns; the members hold them in their full schema.
      const write = (member: string, text: string) => writeFileSync(join(src, member), schemaCsv(member, parseCsv(text)));
      write(
        'job_host_summary.csv',
        'id,created,modified,host_name,ansible_host_variable,changed,dark,failures,ok,processed,skipped,failed,ignored,rescued,job_remote_id,job_template_name,organization_name\n' +
          '1,2024-06-01 10:00:00.000001+00,x,web1,10.0.0.1,0,0,0,3,1,0,f,0,0,7,deploy,Org A\n' +
          '2,2024-06-01 10:00:01+00,x,web2,,0,1,0,1,1,0,f,0,0,7,deploy,\n',
      );
      write(
        'main_jobevent.csv',
        'id,host_name,task_action,resolved_action,role,resolved_role,duration,job_remote_id\n' +
          '1,web1,copy,ansible.builtin.copy,,,1.5,7\n' +
          '2,web1,template,ansible.builtin.template,geerlingguy.nginx,,2,7\n' +
          '3,web2,shell,,myns.mycoll.myrole,,,7\n' +
          '4,web2,,,,,,7\n' +
          '5,web2,debug,,badrole,,0.5,7\n',
      );
      const day = join(base, 'ship/data/2024/06/01');
      mkdirSync(day, { recursive: true });
      execFileSync('tar', ['czf', join(day, 'u-1-2024-06-01-000000+0000-2024-06-02-000000+0000-0.tar.gz'), '-C', src, '.']);
      writeFileSync(join(day, 'broken.tar.gz'), 'not a tarball');
      const storage = new DirectoryStorage({ base: join(base, 'ship') });
      const res = await buildCcspReport({ type: 'CCSP', storage, period: { month: '2024-06' }, params: params() });
      expect(res.failures.map((f) => f.file)).toEqual(['data/2024/06/01/broken.tar.gz']);
      const wb = await readBook(join(base, 'ship', res.name));
      expect(wb.worksheets.map((w) => w.name)).toEqual(['Usage Reporting', 'Managed nodes', 'Usage by collections', 'Usage by roles', 'Usage by modules']);
      const ur = wb.getWorksheet('Usage Reporting')!;
      expect([ur.getCell('A18').value, ur.getCell('C18').value, ur.getCell('A19').value, ur.getCell('C19').value]).toEqual(['No organization name', 1, 'Org A', 1]);
      expect(table(wb.getWorksheet('Managed nodes')!, 4)).toEqual([
        ['10.0.0.1', 1, 1, 3],
        ['web2', 1, 1, 2],
      ]);
      expect(table(wb.getWorksheet('Usage by collections')!, 5)).toEqual([
        ['No collection used', 1, 1, 2, 0.5],
        ['ansible.builtin', 1, 1, 2, 3.5],
      ]);
      expect(table(wb.getWorksheet('Usage by roles')!, 5)).toEqual([
        ['No role used', 2, 2, 2, 2],
        ['geerlingguy.nginx', 1, 1, 1, 2],
        ['myns.mycoll.myrole', 1, 1, 1, 0],
      ]);
      expect(headers(wb.getWorksheet('Usage by modules')!)).toEqual(['Module name', 'Unique managed nodes\nautomated', 'Non-unique managed\nnodes automated', 'Number of task\nruns', 'Duration of task\nruns [seconds]']);
      expect(table(wb.getWorksheet('Usage by modules')!, 5)).toEqual([
        ['ansible.builtin.copy', 1, 1, 1, 1.5],
        ['ansible.builtin.template', 1, 1, 1, 2],
        ['debug', 1, 1, 1, 0.5],
        ['shell', 1, 1, 1, 0],
      ]);

      // That LibreOffice opens the workbooks is libreoffice.test.ts's (reported as skipped without it).
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
