import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manifestName, rollup, rollupName } from '@tally/dataframes';
import { buildCcspReport, type BuildResult, periodCoverage, type ReportPeriod, reportParams, VALID_SHEETS, verifyReport } from '@tally/reports';
import { DirectoryStorage } from '@tally/storage';
import { AUDIT_HEADER, csvJson, EVENT_HEADER, JHS_HEADER, metricsUtilityTarballs, STATUS_HEADER, writeCollectionsVectorLake, writeIndirectLake, writeTarball } from '@tally/testkit';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The newest reference's sheets (Indirectly Managed nodes, Inventory Scope, Infrastructure
// Summary, Data collection status) and the gap warnings are the same, cell for cell, whether a
// day was read from its tarballs or from its daily rollup; `tally status` (the stored tarballs)
// lists the same gaps as the sheet.

const NOW = new Date(Date.UTC(2024, 9, 2, 10));
const paramsOf = (sheets: readonly string[]) => {
  const { reportPeriod: _, ...rest } = reportParams({ reportPeriod: '', pricePerNode: 10, sheets, now: NOW });
  return rest;
};
const SHEETS = { CCSPv2: VALID_SHEETS.CCSPv2, CCSP: VALID_SHEETS.CCSP } as const;
type Type = keyof typeof SHEETS;

/** A day of September 2024 with audits alone (INDIRECT only) and a collection of them. */
function writeIndirectOnlyDay(ship: string): void {
  const row = (host: string, facts: unknown, events: unknown, runs: number) =>
    `2024-09-02 10:00:00+00,${host},${csvJson({ serial: `S-${host}` })},${csvJson(facts)},${csvJson(events)},${runs},2024-09-02 09:59:00+00,5,t,Org C\n`;
  writeTarball(ship, '2024-09-02', {
    'main_indirectmanagednodeaudit.csv':
      `${AUDIT_HEADER}\n` +
      row('sw9', { infra_type: 'network', infra_bucket: 'routers', device_type: 'ios' }, ['cisco.ios.ios_command'], 2) +
      row('vm9', { device_type: 'vm' }, ['vmware.vmware_rest.vcenter_vm_info', 'debug'], 1),
    'data_collection_status.csv':
      'collection_start_timestamp,since,until,file_name,status,elapsed\n' +
      '2024-09-03 00:10:00+00,2024-09-02 00:00:00+00,2024-09-03 00:00:00+00,main_indirectmanagednodeaudit.csv,ok,0.5\n',
  });
}

/** Every sheet's cells (value, number format, fill, bold), its merges and row heights, read back from the file. */
async function cells(path: string): Promise<Record<string, unknown>> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(path);
  const out: Record<string, unknown> = {};
  for (const ws of wb.worksheets) {
    const rows: unknown[] = [];
    ws.eachRow({ includeEmpty: true }, (row) => {
      const r: unknown[] = [row.height ?? null];
      row.eachCell({ includeEmpty: true }, (c) => {
        const argb = (c.fill as ExcelJS.FillPattern | undefined)?.fgColor?.argb ?? null;
        r.push([c.value ?? null, c.numFmt ?? null, argb, c.font?.bold ?? null]);
      });
      rows.push(r);
    });
    out[ws.name] = { rows, merges: ws.model.merges ?? [] };
  }
  return out;
}

const label = (p: ReportPeriod) => ('month' in p ? p.month : `${p.since.toISOString().slice(0, 10)}..${p.until.toISOString().slice(0, 10)}`);
const day = (s: string) => new Date(`${s}T00:00:00Z`);

async function report(storage: DirectoryStorage, ship: string, type: Type, period: ReportPeriod, from: 'auto' | 'raw', writeRollups = false) {
  const res = await buildCcspReport({ type, storage, period, params: paramsOf(SHEETS[type]), from, writeRollups, force: true });
  expect(res.status, `${type} ${label(period)}`).toBe('written');
  return { res, cells: await cells(join(ship, res.name)) };
}

const rawDays = (r: BuildResult) => r.read?.days.raw ?? [];
const rollupDays = (r: BuildResult) => r.read?.days.rollup ?? [];

async function rollDays(storage: DirectoryStorage, since: string, until: string): Promise<void> {
  await rollup({ storage, since: day(since), until: day(until), period: 'day' });
}

/** The gaps table (table 1) of a Data collection status sheet, as CollectionGaps. */
async function sheetGaps(path: string): Promise<unknown[]> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(path);
  const ws = wb.getWorksheet('Data collection status')!;
  const gaps: unknown[] = [];
  for (let r = 2; ws.getCell(r, 1).value !== null; r++) {
    gaps.push({ fileName: ws.getCell(r, 1).value, from: ws.getCell(r, 2).value, until: ws.getCell(r, 3).value, seconds: ws.getCell(r, 4).value });
  }
  return gaps;
}

let base: string;
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'tally-newer-rollups-'));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

function craftedShip(name: string): { ship: string; storage: DirectoryStorage } {
  const ship = join(base, name);
  writeIndirectLake(ship);
  writeCollectionsVectorLake(ship);
  writeIndirectOnlyDay(ship);
  return { ship, storage: new DirectoryStorage({ base: ship }) };
}

// July: DIRECT + INDIRECT, facts merged into sets, event lists, a missing infra_type, gaps at the
// month's start, middle and end, a failed collection, main_host and main_host_daily. August: no
// data_collection_status rows. September: INDIRECT only. A range inside July.
const CRAFTED: ReportPeriod[] = [{ month: '2024-07' }, { month: '2024-08' }, { month: '2024-09' }, { since: day('2024-07-02'), until: day('2024-07-10') }];
const TYPES: Type[] = ['CCSPv2', 'CCSP'];

describe('the newest sheets from daily rollups', () => {
  it('crafted months and a range, CCSPv2 and CCSP with every sheet: raw == a mix == every day rolled up', async () => {
    const { ship, storage } = craftedShip('crafted');
    const raw = new Map<string, Awaited<ReturnType<typeof report>>>();
    for (const type of TYPES) for (const p of CRAFTED) raw.set(`${type} ${label(p)}`, await report(storage, ship, type, p, 'raw'));
    // The sheets under test are there, with rows (a vacuous equality would prove nothing).
    const july = raw.get('CCSPv2 2024-07')!.cells as Record<string, { rows: unknown[] }>;
    for (const sheet of ['Indirectly Managed nodes', 'Inventory Scope', 'Infrastructure Summary', 'Data collection status']) {
      expect(july[sheet]!.rows.length, sheet).toBeGreaterThan(2);
    }
    expect(raw.get('CCSPv2 2024-07')!.res.gaps).toHaveLength(4);

    // A mix: July 1–3 (DIRECT, INDIRECT, the audit lost beside job host summaries) and July 10
    // (main_host.csv, a failed collection) rolled up; July 11 (main_host_daily.csv) raw.
    await rollDays(storage, '2024-07-01', '2024-07-04');
    await rollDays(storage, '2024-07-10', '2024-07-11');
    for (const type of TYPES) {
      for (const p of CRAFTED) {
        const mixed = await report(storage, ship, type, p, 'auto');
        expect(mixed.cells, `mix ${type} ${label(p)}`).toEqual(raw.get(`${type} ${label(p)}`)!.cells);
        expect(mixed.res.gaps, `mix gaps ${type} ${label(p)}`).toEqual(raw.get(`${type} ${label(p)}`)!.res.gaps);
      }
    }
    const mixedJuly = await report(storage, ship, 'CCSPv2', { month: '2024-07' }, 'auto');
    expect(rollupDays(mixedJuly.res)).toEqual(['2024-07-01', '2024-07-02', '2024-07-03', '2024-07-10']);
    expect(rawDays(mixedJuly.res)).toEqual(['2024-07-11']);

    // Every day rolled up: nothing is read raw, not even for Inventory Scope or Data collection status.
    await rollDays(storage, '2024-07-01', '2024-10-01');
    for (const type of TYPES) {
      for (const p of CRAFTED) {
        const rolled = await report(storage, ship, type, p, 'auto');
        expect(rawDays(rolled.res), `${type} ${label(p)}`).toEqual([]);
        expect(rollupDays(rolled.res).length, `${type} ${label(p)}`).toBeGreaterThan(0);
        expect(rolled.res.read?.inputs.every((i) => i.kind === 'rollup')).toBe(true);
        expect(rolled.cells, `rollups ${type} ${label(p)}`).toEqual(raw.get(`${type} ${label(p)}`)!.cells);
        expect(rolled.res.gaps, `rollup gaps ${type} ${label(p)}`).toEqual(raw.get(`${type} ${label(p)}`)!.res.gaps);
      }
    }
    // The audit trail lists the main_host and data_collection_status parts read, and verifies.
    const audited = await report(storage, ship, 'CCSPv2', { month: '2024-07' }, 'auto');
    const names = audited.res.read!.inputs.map((i) => i.name);
    expect(names).toContain(rollupName('main_host', 'day', '2024-07-11'));
    expect(names).toContain(rollupName('data_collection_status', 'day', '2024-07-10'));
    expect(await verifyReport(storage, audited.res.name)).toEqual({ ok: true, changed: [] });
    // The day rollups carry main_host (07-10: main_host.csv; 07-11: main_host_daily.csv) and the collections.
    const manifest = (d: string) => JSON.parse(readFileSync(join(ship, manifestName('day', d)), 'utf8'));
    expect(manifest('2024-07-10').parts.main_host).toEqual({ name: rollupName('main_host', 'day', '2024-07-10'), rows: 2, size: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(manifest('2024-07-11').parts.main_host).toEqual({ name: rollupName('main_host', 'day', '2024-07-11'), rows: 1, size: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(manifest('2024-07-10').parts.data_collection_status).toEqual({ name: rollupName('data_collection_status', 'day', '2024-07-10'), rows: 2, size: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(manifest('2024-08-01').parts.data_collection_status).toBeNull();
  }, 300_000);

  it('the fixture months with every sheet: raw == every day rolled up (the Data collection status sheet included)', async () => {
    const ship = join(base, 'fixtures');
    cpSync(join(metricsUtilityTarballs().base, 'data'), join(ship, 'data'), { recursive: true });
    const storage = new DirectoryStorage({ base: ship });
    const periods: ReportPeriod[] = [{ month: '2024-02' }, { month: '2024-03' }, { month: '2024-04' }, { since: day('2024-02-28'), until: day('2024-03-19') }];
    const raw = [];
    for (const p of periods) raw.push(await report(storage, ship, 'CCSPv2', p, 'raw'));
    expect((raw[1]!.cells as Record<string, { rows: unknown[] }>)['Data collection status']!.rows.length).toBeGreaterThan(5);
    await rollDays(storage, '2024-02-01', '2024-05-01');
    for (const [i, p] of periods.entries()) {
      const rolled = await report(storage, ship, 'CCSPv2', p, 'auto');
      expect(rawDays(rolled.res), label(p)).toEqual([]);
      expect(rolled.cells, label(p)).toEqual(raw[i]!.cells);
      expect(rolled.res.gaps, label(p)).toEqual(raw[i]!.res.gaps);
    }
  }, 300_000);

  it('a rollup without data_collection_status (built before it was rolled up) is stale: its day is read raw, or rolled up again', async () => {
    const { ship, storage } = craftedShip('old-manifest');
    const raw = await report(storage, ship, 'CCSPv2', { month: '2024-07' }, 'raw');
    await rollDays(storage, '2024-07-01', '2024-08-01');
    const name = join(ship, manifestName('day', '2024-07-02'));
    const old = JSON.parse(readFileSync(name, 'utf8'));
    delete old.parts.data_collection_status;
    writeFileSync(name, JSON.stringify(old));
    const read = await report(storage, ship, 'CCSPv2', { month: '2024-07' }, 'auto');
    expect(rawDays(read.res)).toEqual(['2024-07-02']);
    expect(read.cells).toEqual(raw.cells);
    expect(read.res.gaps).toEqual(raw.res.gaps);
    // --write-rollups rolls that day up again, with its collections.
    const rewritten = await report(storage, ship, 'CCSPv2', { month: '2024-07' }, 'auto', true);
    expect(rewritten.cells).toEqual(raw.cells);
    expect(JSON.parse(readFileSync(name, 'utf8')).parts.data_collection_status).toMatchObject({ rows: 2 });
    const again = await report(storage, ship, 'CCSPv2', { month: '2024-07' }, 'auto');
    expect(rawDays(again.res)).toEqual([]);
    expect(again.cells).toEqual(raw.cells);
  }, 120_000);
});

describe('an unreadable main_host or data_collection_status part', () => {
  it('is named, and its day read from the tarballs: nothing of that day comes from its other parts', async () => {
    const { ship, storage } = craftedShip('corrupt-part');
    // A day with events and a collection: its collections part is added before its events part fails.
    writeTarball(ship, '2024-07-12', {
      'job_host_summary.csv': `${JHS_HEADER}\n9,2024-07-12 10:00:00+00,x,web1,,0,0,2,0,0,0,2024-07-12 09:59:00+00,99,deploy,Org A\n`,
      'main_jobevent.csv': `${EVENT_HEADER}\n1,web1,ansible.builtin.ping,,,,1.5,99\n`,
      'data_collection_status.csv': `${STATUS_HEADER}\n2024-07-13 00:10:00+00,2024-07-12 00:00:00+00,2024-07-13 00:00:00+00,job_host_summary.csv,ok,0.5\n`,
    });
    const raw = await report(storage, ship, 'CCSPv2', { month: '2024-07' }, 'raw');
    await rollDays(storage, '2024-07-01', '2024-08-01');
    const cases = [
      ['data_collection_status', '2024-07-02', '2024-07-03'],
      ['main_host', '2024-07-10', '2024-07-11'],
      ['main_jobevent', '2024-07-12', '2024-07-13'],
    ] as const;
    for (const [kind, date, next] of cases) {
      const part = rollupName(kind, 'day', date);
      writeFileSync(join(ship, part), 'PAR1 this is not parquet');
      const res = await report(storage, ship, 'CCSPv2', { month: '2024-07' }, 'auto');
      expect(res.res.read?.skipped.map((s) => s.name)).toEqual([part]);
      expect(rawDays(res.res)).toEqual([date]);
      expect(res.cells, kind).toEqual(raw.cells);
      expect(res.res.gaps, kind).toEqual(raw.res.gaps);
      await rollDays(storage, date, next);
    }
  }, 120_000);
});

describe('a day whose rollup refused a tarball', () => {
  it('is read raw: the report refuses what its own sheets read, and names it', async () => {
    const { ship, storage } = craftedShip('refused');
    // A malformed main_host.csv beside good job host summaries: the rollup (every kind) refuses the
    // tarball; a report without Inventory Scope never reads main_host.csv and counts late1.
    writeTarball(
      ship,
      '2024-07-20',
      {
        'job_host_summary.csv': `${JHS_HEADER}\n9,2024-07-20 10:00:00+00,x,late1,,0,0,2,0,0,0,2024-07-20 09:59:00+00,99,deploy,Org A\n`,
        'main_host.csv': 'id,bad-name\n1,2\n',
      },
      { verbatim: ['main_host.csv'] },
    );
    await rollDays(storage, '2024-07-01', '2024-08-01');
    const bad = 'data/2024/07/20/u-1-2024-07-20-000000+0000-2024-07-20-235959+0000-0.tar.gz';
    expect(JSON.parse(readFileSync(join(ship, manifestName('day', '2024-07-20')), 'utf8')).inputs).toMatchObject([{ name: bad, skipped: expect.stringContaining('main_host.csv') }]);
    for (const sheets of [['ccsp_summary', 'managed_nodes', 'data_collection_status'], SHEETS.CCSPv2]) {
      const build = (from: 'auto' | 'raw') => buildCcspReport({ type: 'CCSPv2', storage, period: { month: '2024-07' }, params: paramsOf(sheets), from, force: true });
      const raw = await build('raw');
      const rawCells = await cells(join(ship, raw.name));
      const auto = await build('auto');
      expect(auto.read?.days.raw).toEqual(['2024-07-20']);
      expect(await cells(join(ship, auto.name)), sheets.join()).toEqual(rawCells);
      expect(auto.failures).toEqual(raw.failures);
      const counted = JSON.stringify(rawCells['Managed nodes']).includes('late1');
      expect(counted, sheets.join()).toBe(!sheets.includes('inventory_scope'));
      expect(raw.failures.map((f) => f.file)).toEqual(counted ? [] : [bad]);
    }
  }, 120_000);
});

describe('tally status and the Data collection status sheet agree', () => {
  const PERIODS: ReportPeriod[] = [
    { month: '2024-07' },
    { month: '2024-08' },
    { month: '2024-09' },
    // Starts inside the audits' covered days, ends inside the job host summaries' failed stretch.
    { since: day('2024-07-02'), until: day('2024-07-06') },
    { since: day('2024-06-28'), until: day('2024-07-10') },
  ];
  for (const from of ['raw', 'auto'] as const) {
    it(`on the crafted lake, the report's days read ${from === 'raw' ? 'from the tarballs' : 'from daily rollups'}`, async () => {
      const { ship, storage } = craftedShip(`agree-${from}`);
      if (from === 'auto') await rollDays(storage, '2024-06-01', '2024-10-01');
      const seen: number[] = [];
      for (const p of PERIODS) {
        const built = await report(storage, ship, 'CCSPv2', p, from);
        if (from === 'auto') expect(rawDays(built.res), label(p)).toEqual([]);
        const status = await periodCoverage(storage, p);
        const sheet = await sheetGaps(join(ship, built.res.name));
        // The sheet read back holds Dates (ms): the gaps' microseconds are left out.
        expect(status.gaps.map(({ fromUs: _f, untilUs: _u, ...g }) => g), label(p)).toEqual(sheet);
        // The warnings are the sheet's gaps over an hour.
        expect(built.res.gaps, label(p)).toEqual(status.gaps.filter((g) => g.seconds > 3600));
        seen.push(sheet.length);
      }
      // July: start, middle and end gaps; August: no collections, no gaps; September: the days
      // around the 2nd; the ranges: the audits' first hours, the job host summaries' failed stretch.
      expect(seen).toEqual([4, 0, 2, 2, 4]);
    }, 120_000);
  }
});
