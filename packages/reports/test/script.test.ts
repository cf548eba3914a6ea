import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addRollups, JobHostSummary, loadTarballs, MainJobevent, openDuckDb, rollup } from '@tally/dataframes';
import { buildCcspReport, reportParams, writeCcspFromDataframes } from '@tally/reports';
import { reportTarget } from '../src/build.js';
import { DirectoryStorage } from '@tally/storage';
import { metricsUtilityTarballs } from '@tally/testkit';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The script path of the README: a script builds its own dataframes (from tarballs, from Parquet
// rollups) and gets the workbook `tally report` writes, cell for cell.

const SHEETS = ['ccsp_summary', 'jobs', 'managed_nodes', 'managed_nodes_by_organizations', 'usage_by_organizations', 'usage_by_collections', 'usage_by_roles', 'usage_by_modules'];
const NOW = new Date(Date.UTC(2024, 9, 2, 10));
const MONTH = { since: new Date('2024-03-01T00:00:00Z'), until: new Date('2024-04-01T00:00:00Z') };

let ship: string;
let storage: DirectoryStorage;
beforeAll(() => {
  ship = mkdtempSync(join(tmpdir(), 'tally-script-'));
  cpSync(join(metricsUtilityTarballs().base, 'data'), join(ship, 'data'), { recursive: true });
  storage = new DirectoryStorage({ base: ship });
});
afterAll(() => rmSync(ship, { recursive: true, force: true }));

async function cells(name: string): Promise<Record<string, unknown[]>> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(join(ship, name));
  const out: Record<string, unknown[]> = {};
  for (const ws of wb.worksheets) {
    const rows: unknown[] = [];
    ws.eachRow({ includeEmpty: true }, (row) => rows.push(row.values));
    out[ws.name] = rows;
  }
  return out;
}

/** What `tally report --from raw` writes for March 2024 under the given rule. */
async function fromReport(countUnreachableHosts: boolean) {
  const { reportPeriod: _, ...params } = reportParams({ reportPeriod: '', pricePerNode: 11.55, sheets: SHEETS, now: NOW });
  const res = await buildCcspReport({ type: 'CCSPv2', storage, period: { month: '2024-03' }, params, countUnreachableHosts, from: 'raw', force: true });
  return cells(res.name);
}

async function fromScript(name: string, fill: (jhs: JobHostSummary, events: MainJobevent) => Promise<void>, countUnreachableHosts: boolean) {
  await using db = await openDuckDb();
  const jhs = new JobHostSummary(db, { reachableOnly: !countUnreachableHosts });
  const events = new MainJobevent(db);
  await fill(jhs, events);
  const params = reportParams({ reportPeriod: reportTarget('CCSPv2', { month: '2024-03' }).period, pricePerNode: 11.55, sheets: SHEETS, now: NOW });
  const res = await writeCcspFromDataframes({ type: 'CCSPv2', dataframes: { jobHostSummary: jhs, mainJobevent: events }, params, sink: storage, name });
  expect(res.status).toBe('written');
  return cells(name);
}

/** Rollups of whole months and several workbooks: minutes on a busy 2-core host. */
const SLOW = 300_000;

describe('a script builds a CCSPv2 from its own dataframes', () => {
  for (const countUnreachableHosts of [true, false]) {
    it(`from tarballs (loadTarballs → group) and from daily rollups (addRollups → regroup): equal to tally report (${countUnreachableHosts ? 'counting' : 'dropping'} unreachable hosts)`, async () => {
      const expected = await fromReport(countUnreachableHosts);
      const raw = await fromScript('script/raw.xlsx', async (jhs, events) => {
        await loadTarballs([jhs, events], { storage, ...MONTH });
      }, countUnreachableHosts);
      expect(raw).toEqual(expected);

      const prefix = `rollups-${countUnreachableHosts}`;
      await rollup({ storage, ...MONTH, period: 'day', reachableOnly: !countUnreachableHosts, prefix });
      const rolled = await fromScript('script/rollups.xlsx', async (jhs, events) => {
        // The fixture tarballs carry no main_jobevent.csv: only job host summaries are rolled up.
        expect((await addRollups(jhs, { storage, period: 'day', ...MONTH, prefix })).length).toBeGreaterThan(0);
        expect(await addRollups(events, { storage, period: 'day', ...MONTH, prefix })).toEqual([]);
        await jhs.regroup();
      }, countUnreachableHosts);
      expect(rolled).toEqual(expected);
    }, SLOW);
  }
});
