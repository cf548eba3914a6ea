import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manifestName, rollup } from '@tally/dataframes';
import { buildCcspReport, reportParams } from '@tally/reports';
import { DirectoryStorage } from '@tally/storage';
import { schemaCsv, writeTarball } from '@tally/testkit';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A CCSPv2 workbook of a tarball whose job host summaries hold empty and negative counters: the
// quantity and task runs metrics-utility gives under each counting rule, whether the day is read
// from its tarball or from its rollup, and a rollup written before those counters were counted so
// is not used.

const DAY = '2024-03-06';
const SHEETS = ['ccsp_summary', 'managed_nodes', 'usage_by_organizations'];
const { reportPeriod: _, ...params } = reportParams({ reportPeriod: '', pricePerNode: 10, sheets: SHEETS, now: new Date(Date.UTC(2024, 9, 2, 10)) });

type Counters = Partial<Record<'dark' | 'failures' | 'ok' | 'skipped' | 'ignored' | 'rescued', number | ''>>;
/**
 * Each host's one row, and its task runs under the reachable rule (0.5+; null: dropped) and the
 * 0.4 rule (every row kept). The reference sums a row's counters with Python's sum(), an empty
 * one being NaN: NaN > 0 is False (dropped), and the group sum skips a NaN task-runs value (0).
 */
const HOSTS: { host: string; counters: Counters; reachable: number | null; all: number }[] = [
  { host: 'plain', counters: { ok: 2, dark: 1 }, reachable: 3, all: 3 },
  // The audit's rows: ok empty beside failures 1 (sum NaN), and ok -1 alone (sum -1, not > 0).
  { host: 'ok-empty', counters: { ok: '', failures: 1 }, reachable: null, all: 0 },
  { host: 'ok-negative', counters: { ok: -1 }, reachable: null, all: -1 },
  // The five sum to 3: kept, but dark empty makes its task runs NaN, which sums as 0.
  { host: 'dark-empty', counters: { dark: '', ok: 3 }, reachable: 0, all: 0 },
  // -1 + 2 = 1 > 0: kept with 1 + dark 1.
  { host: 'negative-kept', counters: { ok: -1, failures: 2, dark: 1 }, reachable: 2, all: 2 },
];

function jhsCsv(): string {
  return schemaCsv(
    'job_host_summary.csv',
    HOSTS.map((h, i) => ({
      id: i + 1,
      created: `${DAY} 10:0${i}:00+00`,
      modified: `${DAY} 10:0${i}:00+00`,
      host_name: h.host,
      changed: 0,
      processed: 1,
      failed: 'f',
      job_created: `${DAY} 09:00:00+00`,
      job_remote_id: 40 + i,
      job_template_name: 'T',
      organization_name: 'Org',
      dark: 0,
      failures: 0,
      ok: 0,
      skipped: 0,
      ignored: 0,
      rescued: 0,
      ...h.counters,
    })),
  );
}

let base: string;
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'tally-counters-report-'));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

function ship(name: string): { ship: string; storage: DirectoryStorage } {
  const dir = join(base, name);
  writeTarball(dir, DAY, { 'job_host_summary.csv': jhsCsv() }, { verbatim: ['job_host_summary.csv'] });
  return { ship: dir, storage: new DirectoryStorage({ base: dir }) };
}

/** The Usage Reporting quantity, each Managed nodes host's task runs, and the organization's task runs. */
async function figures(path: string): Promise<{ quantity: unknown; hosts: Record<string, unknown>; orgTaskRuns: unknown }> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(path);
  const table = (name: string) => {
    const ws = wb.getWorksheet(name)!;
    const header = (ws.getRow(1).values as unknown[]).slice(1);
    const rows: Record<string, unknown>[] = [];
    ws.eachRow((row, n) => {
      if (n > 1) rows.push(Object.fromEntries(header.map((h, i) => [String(h), row.getCell(i + 1).value])));
    });
    return rows;
  };
  const hosts = Object.fromEntries(table('Managed nodes').map((r) => [r['Host name'], r['Number of task\nruns']]));
  const orgs = table('Usage by organizations');
  expect(orgs.map((r) => r['Organization name'])).toEqual(['Org']);
  return { quantity: wb.getWorksheet('Usage Reporting')!.getCell('G7').value, hosts, orgTaskRuns: orgs[0]!['Number of task\nruns'] };
}

function expected(countUnreachableHosts: boolean) {
  const kept = HOSTS.flatMap((h) => {
    const runs = countUnreachableHosts ? h.all : h.reachable;
    return runs === null ? [] : [[h.host, runs] as const];
  });
  return { quantity: kept.length, hosts: Object.fromEntries(kept), orgTaskRuns: kept.reduce((n, [, r]) => n + r, 0) };
}

async function report(storage: DirectoryStorage, dir: string, countUnreachableHosts: boolean, opts: { from?: 'auto' | 'raw'; writeRollups?: boolean } = {}) {
  const res = await buildCcspReport({ type: 'CCSPv2', storage, period: { month: '2024-03' }, params, countUnreachableHosts, from: opts.from ?? 'auto', writeRollups: opts.writeRollups ?? false, force: true });
  expect(res.status).toBe('written');
  return { res, figures: await figures(join(dir, res.name)) };
}

describe('CCSPv2 of job host summaries with empty and negative counters', () => {
  for (const countUnreachableHosts of [false, true]) {
    const rule = countUnreachableHosts ? 'counting unreachable hosts (0.4)' : 'reachable hosts only (0.5+)';
    it(`${rule}: the reference's quantity and task runs, from the tarball and from its day rollup alike`, async () => {
      const { ship: dir, storage } = ship(`rule-${countUnreachableHosts}`);
      // Reachable: plain, dark-empty, negative-kept → 3 nodes, 3 + 0 + 2 = 5 task runs.
      // 0.4: all five → 3 + 0 - 1 + 0 + 2 = 4 task runs.
      const want = expected(countUnreachableHosts);
      expect(want.quantity).toBe(countUnreachableHosts ? 5 : 3);
      expect(want.orgTaskRuns).toBe(countUnreachableHosts ? 4 : 5);
      const raw = await report(storage, dir, countUnreachableHosts, { from: 'raw' });
      expect(raw.figures).toEqual(want);
      await rollup({ storage, since: new Date(`${DAY}T00:00:00Z`), until: new Date('2024-03-07T00:00:00Z'), period: 'day', reachableOnly: !countUnreachableHosts });
      const rolled = await report(storage, dir, countUnreachableHosts);
      expect(rolled.res.read?.days).toEqual({ rollup: [DAY], raw: [] });
      expect(rolled.figures).toEqual(want);
    });
  }

  it('a day rollup whose manifest has no counting rule version (written before it) is not current: read raw, rebuilt with writeRollups', async () => {
    const { ship: dir, storage } = ship('old-version');
    await rollup({ storage, since: new Date(`${DAY}T00:00:00Z`), until: new Date('2024-03-07T00:00:00Z'), period: 'day' });
    const path = join(dir, manifestName('day', DAY));
    const { countingRuleVersion, ...old } = JSON.parse(readFileSync(path, 'utf8'));
    expect(countingRuleVersion).toBe(2);
    writeFileSync(path, JSON.stringify(old));
    const stale = await report(storage, dir, false);
    expect(stale.res.read?.days).toEqual({ rollup: [], raw: [DAY] });
    expect(stale.figures).toEqual(expected(false));
    // Rebuilt from the tarball under the current version: the next report reads it.
    await report(storage, dir, false, { writeRollups: true });
    expect(JSON.parse(readFileSync(path, 'utf8')).countingRuleVersion).toBe(2);
    const again = await report(storage, dir, false);
    expect(again.res.read?.days).toEqual({ rollup: [DAY], raw: [] });
    expect(again.figures).toEqual(expected(false));
  });
});
