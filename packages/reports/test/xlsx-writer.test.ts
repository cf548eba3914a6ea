import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCcspReport, type CcspDeduplicator, DEFAULT_SHEETS, type HostMetricRecord, renewalNodes, reportParams, VALID_SHEETS } from '@tally/reports';
import { DirectoryStorage } from '@tally/storage';
import { AUDIT_HEADER, metricsUtilityTarballs, writeCollectionsVectorLake, writeIndirectLake, writeTarball } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RenewalDeduplicator } from '../src/renewal-nodes.js';
import { summarizeRenewal, writeRenewal } from '../src/renewal.js';
import { EXCEL_MAX_CELL_TEXT } from '../src/sheet.js';
import { openExceljsWorkbook } from './exceljs-writer.js';

// Every report type written by Tally's writer and by exceljs's streaming writer (what the reports
// used before): every member of the two files byte for byte, but docProps/core.xml (timestamps).

const writer = vi.hoisted(() => ({ exceljs: false, opened: { exceljs: 0, tally: 0 } }));
vi.mock('../src/sheet.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/sheet.js')>();
  return {
    ...original,
    openWorkbook: (filename: string) => {
      writer.opened[writer.exceljs ? 'exceljs' : 'tally']++;
      return writer.exceljs ? openExceljsWorkbook(filename) : original.openWorkbook(filename);
    },
  };
});

let base: string;
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'tally-xlsx-writer-'));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

const members = (file: string) =>
  execFileSync('unzip', ['-Z1', file], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .sort();
const member = (file: string, name: string) => execFileSync('unzip', ['-p', file, name.replace(/\[/g, '[[]')], { maxBuffer: 256 << 20 });

/** The same workbook written both ways: every member equal but core.xml's timestamps. */
async function expectSameBytes(label: string, write: () => Promise<string>): Promise<void> {
  const opened = { ...writer.opened };
  writer.exceljs = true;
  const theirs = await write();
  const copy = join(base, `${label.replace(/\W+/g, '_')}-exceljs.xlsx`);
  cpSync(theirs, copy);
  writer.exceljs = false;
  const ours = await write();
  // Each way wrote its own file.
  expect(writer.opened).toEqual({ exceljs: opened.exceljs + 1, tally: opened.tally + 1 });
  expect(members(ours), label).toEqual(members(copy));
  for (const name of members(copy)) {
    const a = member(ours, name).toString('utf8');
    const b = member(copy, name).toString('utf8');
    if (name === 'docProps/core.xml') expect(a.replace(/\d{4}-\d\d-\d\dT[\d:]+Z/g, 'T'), `${label} ${name}`).toBe(b.replace(/\d{4}-\d\d-\d\dT[\d:]+Z/g, 'T'));
    else expect(a, `${label} ${name}`).toBe(b);
  }
}

const MONTHS = ['2024-02', '2024-03', '2024-04', '2024-07', '2024-08', '2024-09'];
const NOW = new Date(Date.UTC(2024, 9, 2, 10));

describe('Tally writes the workbooks exceljs wrote', () => {
  let storage: DirectoryStorage;
  beforeAll(() => {
    const ship = join(base, 'ship');
    cpSync(join(metricsUtilityTarballs().base, 'data'), join(ship, 'data'), { recursive: true });
    writeIndirectLake(ship);
    writeCollectionsVectorLake(ship);
    writeTarball(ship, '2024-09-02', {
      'main_indirectmanagednodeaudit.csv': `${AUDIT_HEADER}\n2024-09-02 10:00:00+00,sw9,{},"{""infra_type"": ""network""}","[""cisco.ios.ios_command""]",2,2024-09-02 09:59:00+00,5,t,Org C\n`,
    });
    storage = new DirectoryStorage({ base: ship });
  });

  const ccsp = (type: 'CCSP' | 'CCSPv2', month: string, sheets: readonly string[], deduplicator?: CcspDeduplicator) => async () => {
    const { reportPeriod: _, ...params } = reportParams({
      reportPeriod: '',
      pricePerNode: 11.55,
      sku: 'SKU',
      companyName: 'Acme & Sons <x>',
      sheets,
      now: NOW,
      ...(deduplicator ? { deduplicator } : {}),
    });
    const res = await buildCcspReport({ type, storage, period: { month }, params, force: true });
    expect(res.status, `${type} ${month}`).toBe('written');
    return join(storage.base, res.name);
  };

  for (const type of ['CCSPv2', 'CCSP'] as const) {
    it(`${type}, every fixture and crafted month, every sheet`, async () => {
      for (const month of MONTHS) await expectSameBytes(`${type} ${month}`, ccsp(type, month, VALID_SHEETS[type]));
    }, 240_000);
  }

  it('CCSPv2 and CCSP, default sheets; ccsp-experimental', async () => {
    for (const type of ['CCSPv2', 'CCSP'] as const) {
      await expectSameBytes(`${type} default`, ccsp(type, '2024-09', DEFAULT_SHEETS));
      await expectSameBytes(`${type} experimental`, ccsp(type, '2024-09', VALID_SHEETS[type], 'ccsp-experimental'));
    }
    // Without managed_nodes_by_organizations: the Managed nodes sheet has the dedup columns.
    const sheets = VALID_SHEETS.CCSPv2.filter((s) => s !== 'managed_nodes_by_organizations');
    await expectSameBytes('CCSPv2 experimental, no per-organization sheets', ccsp('CCSPv2', '2024-09', sheets, 'ccsp-experimental'));
  }, 240_000);

  const day = (d: number) => new Date(Date.UTC(2024, 4, d, 3));
  const record = (hostname: string, first: number, last: number, more: Partial<HostMetricRecord> = {}): HostMetricRecord => ({
    hostname,
    hostId: 0,
    firstAutomation: day(first),
    lastAutomation: day(last),
    automatedCounter: last - first + 1,
    deletedCounter: 0,
    lastDeleted: null,
    deleted: false,
    ansibleProductSerial: null,
    ansibleMachineId: null,
    ansibleHostVariable: null,
    ...more,
  });
  const RECORDS: HostMetricRecord[] = [
    record('a', 1, 10, { ansibleProductSerial: 'S1', ansibleMachineId: 'M1', ansibleHostVariable: '10.0.0.1' }),
    record('a.example.com', 2, 12, { ansibleProductSerial: 'S1' }),
    record(' padded ', 3, 3, { ansibleHostVariable: 'x & <y>' }),
    record('b', 15, 16, { ansibleMachineId: 'M2' }),
    record('b-old', 14, 14, { ansibleMachineId: 'M2', deleted: true, deletedCounter: 1, lastDeleted: day(15) }),
    record('e', 18, 19, { ansibleProductSerial: 'NA' }),
    record('long', 1, 19, { ansibleHostVariable: 'z'.repeat(EXCEL_MAX_CELL_TEXT + 10) }),
    record('never', 1, 1, { firstAutomation: null, lastAutomation: null }),
  ];

  for (const deduplicator of ['renewal', 'renewal-hostname', 'renewal-experimental', 'renewal-closure'] as RenewalDeduplicator[]) {
    it(`Renewal Guidance (${deduplicator}), with and without ephemeral hosts`, async () => {
      const nodes = renewalNodes(RECORDS, { deduplicator });
      const window = { since: day(1), until: day(19), now: day(20) };
      for (const ephemeralDays of [undefined, 3]) {
        const summary = summarizeRenewal(nodes, { ...window, ...(ephemeralDays ? { ephemeralDays } : {}) });
        const file = join(base, `renewal-${deduplicator}-${ephemeralDays ?? 0}.xlsx`);
        await expectSameBytes(`renewal ${deduplicator} ${ephemeralDays}`, async () => {
          await writeRenewal(file, summary, { reportPeriod: '2024-05-01, 2024-05-19', now: day(20), sheets: ['managed_nodes'] });
          return file;
        });
      }
    });
  }
});
