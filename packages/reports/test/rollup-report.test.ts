import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@tally/core';
import { manifestName, openDuckDb, rollup, rollupName, usageRollupName } from '@tally/dataframes';
import { type BuildResult, buildCcspReport, reportParams, verifyReport } from '@tally/reports';
import { DirectoryStorage } from '@tally/storage';
import { metricsUtilityTarballs, recordingLogger, schemaCsv } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workbookCells as cells } from './workbook-cells.js';

// A workbook is the same cell for cell whether its days came from the tarballs, from daily
// rollups, or from a mix; a rollup that is stale, of the other counting rule, or unreadable is
// never used (its day is read from the tarballs).

const SHEETS = ['ccsp_summary', 'jobs', 'managed_nodes', 'managed_nodes_by_organizations', 'usage_by_organizations', 'usage_by_collections', 'usage_by_roles', 'usage_by_modules'];
const { reportPeriod: _, ...params } = reportParams({ reportPeriod: '', pricePerNode: 11.55, sku: 'SKU', companyName: 'Acme', sheets: SHEETS, now: new Date(Date.UTC(2024, 9, 2, 10)) });

let base: string;
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'tally-rollup-report-'));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

function fixtureShip(name: string): { ship: string; storage: DirectoryStorage } {
  const ship = join(base, name);
  cpSync(join(metricsUtilityTarballs().base, 'data'), join(ship, 'data'), { recursive: true });
  return { ship, storage: new DirectoryStorage({ base: ship }) };
}


type Period = { month: string } | { since: Date; until: Date };
const PERIODS: Period[] = [{ month: '2024-02' }, { month: '2024-03' }, { month: '2024-04' }, { since: new Date('2024-02-28T00:00:00Z'), until: new Date('2024-03-19T00:00:00Z') }];
const label = (p: Period) => ('month' in p ? p.month : `${p.since.toISOString().slice(0, 10)}..${p.until.toISOString().slice(0, 10)}`);

async function report(storage: DirectoryStorage, ship: string, period: Period, countUnreachableHosts: boolean, from: 'auto' | 'raw' = 'auto') {
  const res = await buildCcspReport({ type: 'CCSPv2', storage, period, params, countUnreachableHosts, from, force: true });
  expect(res.status).toBe('written');
  return { res, cells: await cells(join(ship, res.name)) };
}

async function rollDays(storage: DirectoryStorage, since: string, until: string, countUnreachableHosts: boolean, period: 'day' | 'month' = 'day'): Promise<void> {
  await rollup({ storage, since: new Date(`${since}T00:00:00Z`), until: new Date(`${until}T00:00:00Z`), period, reachableOnly: !countUnreachableHosts });
}

/** The periods (`day`, `month`) of the rollup parts a report read. */
/** The kinds of the usage's rollup parts a report read (`job_host_summary`, `usage_hosts` …; not the extra sheets' parts). */
const rollupKinds = (r: BuildResult) =>
  [...new Set((r.read?.inputs ?? []).filter((i) => i.kind === 'rollup').map((i) => /^rollups\/([^/]+)\//.exec(i.name)?.[1]))]
    .filter((k) => k !== 'data_collection_status' && k !== 'main_host' && k !== STATUS_MERGE)
    .sort();

/** Remove the usage rollups from every manifest of the ship: its rollups are then read at the job grain. */
function stripUsage(ship: string): void {
  for (const period of readdirSync(join(ship, 'rollups/_inputs'))) {
    for (const f of readdirSync(join(ship, 'rollups/_inputs', period))) {
      const path = join(ship, 'rollups/_inputs', period, f);
      const { usage: _, monthToDate: __, ...m } = JSON.parse(readFileSync(path, 'utf8'));
      writeFileSync(path, JSON.stringify(m));
    }
  }
}

const MONTH_TO_DATE = ['usage_hosts_month_to_date', 'usage_jobs_month_to_date'];
/** The month-to-date merge's data_collection_status rows (tested on their own). */
const STATUS_MERGE = 'usage_data_collection_status_month_to_date';

const rollupPeriods = (r: BuildResult) => [...new Set((r.read?.inputs ?? []).filter((i) => i.kind === 'rollup').map((i) => /\/period=(\w+)\//.exec(i.name)?.[1]))].sort();

const rawDays = (r: BuildResult) => r.read?.days.raw ?? [];
const rollupDays = (r: BuildResult) => r.read?.days.rollup ?? [];

/** Rollups of whole months and several workbooks: minutes on a busy 2-core host. */
const SLOW = 300_000;

describe('reports from rollups', () => {
  for (const countUnreachableHosts of [true, false]) {
    it(`${countUnreachableHosts ? 'counting' : 'dropping'} unreachable hosts: raw == daily rollups == a mix, every fixture month and a range`, async () => {
      const { ship, storage } = fixtureShip(`rule-${countUnreachableHosts}`);
      const raw = new Map<string, Awaited<ReturnType<typeof report>>>();
      for (const p of PERIODS) raw.set(label(p), await report(storage, ship, p, countUnreachableHosts, 'raw'));

      // A mix: only March 1–18 rolled up.
      await rollDays(storage, '2024-03-01', '2024-03-19', countUnreachableHosts);
      for (const p of PERIODS) {
        const mixed = await report(storage, ship, p, countUnreachableHosts);
        expect(mixed.cells, `mix ${label(p)}`).toEqual(raw.get(label(p))!.cells);
      }
      const march = await report(storage, ship, { month: '2024-03' }, countUnreachableHosts);
      expect(rollupDays(march.res).length).toBeGreaterThan(0);
      expect(rawDays(march.res).length).toBeGreaterThan(0);
      expect(rawDays(march.res).every((d) => d >= '2024-03-19')).toBe(true);

      // Every day rolled up: only the usage rollups are read (no job of the fixtures spans two days),
      // a whole month's as its month-to-date merge; the range's February days (not from the 1st) day by day.
      await rollDays(storage, '2024-02-01', '2024-05-01', countUnreachableHosts);
      for (const p of PERIODS) {
        const rolled = await report(storage, ship, p, countUnreachableHosts);
        expect(rawDays(rolled.res), label(p)).toEqual([]);
        expect(rollupKinds(rolled.res), label(p)).toEqual('month' in p ? MONTH_TO_DATE : ['usage_hosts', ...MONTH_TO_DATE, 'usage_jobs'].sort());
        expect(rolled.cells, `rollups ${label(p)}`).toEqual(raw.get(label(p))!.cells);
      }
      // The same days read at the job grain (manifests without usage rollups, as older ones).
      stripUsage(ship);
      for (const p of PERIODS) {
        const rolled = await report(storage, ship, p, countUnreachableHosts);
        expect(rollupKinds(rolled.res), label(p)).toEqual(['job_host_summary']);
        expect(rolled.cells, `job-grain rollups ${label(p)}`).toEqual(raw.get(label(p))!.cells);
      }

      // Month rollups: a whole month in the period reads its month's rollup, the range's partial months their days.
      await rollDays(storage, '2024-02-01', '2024-05-01', countUnreachableHosts, 'month');
      for (const p of PERIODS) {
        const rolled = await report(storage, ship, p, countUnreachableHosts);
        expect(rawDays(rolled.res), label(p)).toEqual([]);
        expect(rollupPeriods(rolled.res), label(p)).toEqual('month' in p ? ['month'] : ['day']);
        expect(rollupKinds(rolled.res), label(p)).toEqual('month' in p ? ['usage_hosts', 'usage_jobs'] : ['job_host_summary']);
        expect(rolled.cells, `month rollups ${label(p)}`).toEqual(raw.get(label(p))!.cells);
      }

      // A mix of all three in one range: February from its days (no month manifest), March from its
      // month rollup, April 1–19 partly from day rollups and partly raw (some day manifests gone).
      rmSync(join(ship, manifestName('month', '2024-02')));
      const aprilDays = readdirSync(join(ship, 'rollups/_inputs/period=day')).filter((f) => f.startsWith('date=2024-04-')).sort();
      for (const f of aprilDays.slice(0, Math.ceil(aprilDays.length / 2))) rmSync(join(ship, 'rollups/_inputs/period=day', f));
      const range = { since: new Date('2024-02-01T00:00:00Z'), until: new Date('2024-04-20T00:00:00Z') };
      const mixed = await report(storage, ship, range, countUnreachableHosts);
      expect(rollupPeriods(mixed.res)).toEqual(['day', 'month']);
      expect(rawDays(mixed.res).length).toBeGreaterThan(0);
      expect(rawDays(mixed.res).every((d) => d.startsWith('2024-04-'))).toBe(true);
      expect(mixed.cells, 'month + days + raw').toEqual((await report(storage, ship, range, countUnreachableHosts, 'raw')).cells);
    }, SLOW);
  }

  it('inputs.json: every tarball read once, hashed as it was extracted, with the records each CSV member contributed', async () => {
    const { ship } = fixtureShip('audit');
    const gets = new Map<string, number>();
    class CountingStorage extends DirectoryStorage {
      override get(name: string) {
        gets.set(name, (gets.get(name) ?? 0) + 1);
        return super.get(name);
      }
    }
    const storage = new CountingStorage({ base: ship });
    const raw = await report(storage, ship, { month: '2024-04' }, true, 'raw');
    const audit = JSON.parse(readFileSync(join(ship, raw.res.name.replace(/\.xlsx$/, '.inputs.json')), 'utf8'));
    const tarballs = audit.inputs.filter((i: { kind: string }) => i.kind === 'tarball');
    expect(tarballs.length).toBeGreaterThan(0);
    await using db = await openDuckDb();
    for (const t of tarballs) {
      expect(gets.get(t.name), t.name).toBe(1);
      expect(t.sha256).toBe(createHash('sha256').update(readFileSync(join(ship, t.name))).digest('hex'));
      const dir = mkdtempSync(join(base, 'x-'));
      execFileSync('tar', ['xzf', join(ship, t.name), '-C', dir]);
      const [c] = await db.all<{ n: bigint }>('SELECT count(*) AS n FROM read_csv($1, header = true, all_varchar = true)', [join(dir, 'job_host_summary.csv')]);
      expect(t.csvRows['job_host_summary.csv'], t.name).toBe(Number(c!.n));
    }
    // From day rollups: the rollup parts are read once and not again for the audit; no tarball is read.
    gets.clear();
    await rollDays(storage, '2024-04-01', '2024-05-01', true);
    // Rolling up reads each tarball once too: its manifest records the hash taken while extracting.
    for (const t of tarballs) expect(gets.get(t.name), `rollup read ${t.name}`).toBe(1);
    gets.clear();
    const rolled = await report(storage, ship, { month: '2024-04' }, true);
    const parts = (rolled.res.read?.inputs ?? []).map((i) => i.name);
    expect(parts.every((n) => n.startsWith('rollups/'))).toBe(true);
    for (const n of gets.keys()) expect(n.startsWith('data/'), n).toBe(false);
    for (const n of parts) expect(gets.get(n), n).toBe(1);
    const rolledAudit = JSON.parse(readFileSync(join(ship, rolled.res.name.replace(/\.xlsx$/, '.inputs.json')), 'utf8'));
    for (const i of rolledAudit.inputs) {
      expect(i.rows).toBeGreaterThanOrEqual(0);
      for (const t of i.builtFrom) expect(t.csvRows['job_host_summary.csv']).toBe(tarballs.find((x: { name: string }) => x.name === t.name).csvRows['job_host_summary.csv']);
    }
  }, SLOW);

  it("the README's DuckDB queries give a month's managed nodes straight from the Parquet, as the report's quantity", async () => {
    const { ship, storage } = fixtureShip('readme');
    const readme = readFileSync(new URL('../../dataframes/README.md', import.meta.url), 'utf8');
    const queries = [...readme.matchAll(/`(SELECT count\(DISTINCT host_name\) FROM read_parquet\('ship\/rollups\/[^`]+)`/g)].map((m) => m[1]!);
    expect(queries.map((q) => /period=(\w+)/.exec(q)?.[1])).toEqual(['day', 'month']);
    for (const countUnreachableHosts of [false, true]) {
      await rollDays(storage, '2024-03-01', '2024-04-01', countUnreachableHosts);
      await rollDays(storage, '2024-03-01', '2024-04-01', countUnreachableHosts, 'month');
      const march = await report(storage, ship, { month: '2024-03' }, countUnreachableHosts, 'raw');
      // The summary row: …, SKU, quantity, …
      const row = Object.values(march.cells).flat().find((r) => r.some((c) => (c as unknown[])[0] === 'SKU'))!;
      const quantity = (row[row.findIndex((c) => (c as unknown[])[0] === 'SKU') + 1] as unknown[])[0];
      expect(quantity).toBeGreaterThan(0);
      await using db = await openDuckDb();
      for (const q of queries) {
        const [r] = await db.all<{ n: bigint }>(q.replace("'ship/", `'${ship}/`).replace('count(DISTINCT host_name)', 'count(DISTINCT host_name) AS n'));
        expect(Number(r!.n), `${q} (count unreachable: ${countUnreachableHosts})`).toBe(quantity);
      }
    }
  }, SLOW);

  it('never mixes counting rules: rollups of the other rule are not used', async () => {
    const { ship, storage } = fixtureShip('other-rule');
    const raw = await report(storage, ship, { month: '2024-04' }, false, 'raw');
    await rollDays(storage, '2024-04-01', '2024-05-01', true);
    // Each day's manifest records the rule, its parts and every tarball it read, hashed.
    const day = readdirSync(join(ship, 'data/2024/04')).sort()[0]!;
    const manifest = JSON.parse(readFileSync(join(ship, manifestName('day', `2024-04-${day}`)), 'utf8'));
    const tarballs = readdirSync(join(ship, `data/2024/04/${day}`)).map((f) => `data/2024/04/${day}/${f}`).sort();
    expect(manifest).toMatchObject({ format: 3, period: 'day', date: `2024-04-${day}`, countUnreachableHosts: true });
    expect(manifest.parts.job_host_summary.name).toBe(rollupName('job_host_summary', 'day', `2024-04-${day}`));
    expect(manifest.inputs.map((i: { name: string }) => i.name).sort()).toEqual(tarballs);
    for (const i of manifest.inputs) expect(i.sha256).toMatch(/^[0-9a-f]{64}$/);
    const again = await report(storage, ship, { month: '2024-04' }, false);
    expect(rollupDays(again.res)).toEqual([]);
    expect(again.cells).toEqual(raw.cells);
  }, SLOW);

  it('a tarball added to a rolled-up day makes that day stale: the report includes its rows', async () => {
    const { ship, storage } = fixtureShip('stale');
    await rollDays(storage, '2024-04-01', '2024-05-01', true);
    const before = await report(storage, ship, { month: '2024-04' }, true);
    expect(rawDays(before.res)).toEqual([]);
    const day = readdirSync(join(ship, 'data/2024/04')).sort()[0]!;
    const src = join(base, 'stale-src');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'config.json'), JSON.stringify({ install_uuid: 'u-late' }));
    writeFileSync(
      join(src, 'job_host_summary.csv'),
      schemaCsv('job_host_summary.csv', [
        {
          id: 1,
          created: `2024-04-${day} 10:00:00+00`,
          modified: `2024-04-${day} 10:00:00+00`,
          host_name: 'late-host',
          changed: 0,
          dark: 0,
          failures: 0,
          ok: 2,
          processed: 1,
          skipped: 0,
          failed: 'f',
          ignored: 0,
          rescued: 0,
          job_remote_id: 9999,
          job_template_name: 'Late template',
          organization_name: 'Late org',
        },
      ]),
    );
    execFileSync('tar', ['czf', join(ship, `data/2024/04/${day}/u-late-2024-04-${day}-000000+0000-2024-04-${day}-235959+0000-0.tar.gz`), '-C', src, '.']);
    const late = `data/2024/04/${day}/u-late-2024-04-${day}-000000+0000-2024-04-${day}-235959+0000-0.tar.gz`;
    expect((await verifyReport(storage, before.res.name)).changed).toEqual([{ name: late, reason: 'added since the report was built' }]);
    const after = await report(storage, ship, { month: '2024-04' }, true);
    expect((await verifyReport(storage, after.res.name)).ok).toBe(true);
    expect(rawDays(after.res)).toEqual([`2024-04-${day}`]);
    expect(JSON.stringify(after.cells['Managed nodes'])).toContain('late-host');
    expect(after.cells).toEqual((await report(storage, ship, { month: '2024-04' }, true, 'raw')).cells);
  }, SLOW);

  it('a corrupt (replaced, truncated, or damaged mid-file) Parquet rollup is named in a warning and its day read from the tarballs', async () => {
    const { ship, storage } = fixtureShip('corrupt');
    const raw = await report(storage, ship, { month: '2024-03' }, true, 'raw');
    await rollDays(storage, '2024-03-01', '2024-04-01', true);
    const dates = dayManifestDates(ship);
    // Three usage rollups (read first) and one job-grain part (read once the usage rollups cannot all be).
    const [replaced, truncated, damaged] = [dates[0]!, dates[1]!, dates[2]!].map((d) => ({ date: d, part: usageRollupName('hosts', 'day', d) }));
    const jobGrain = { date: dates[3]!, part: rollupName('job_host_summary', 'day', dates[3]!) };
    // The month-to-date merge (read before the days' usage rollups) damaged too: the days' own are read.
    const toDate = JSON.parse(readFileSync(join(ship, manifestName('day', dates.at(-1)!)), 'utf8')).monthToDate.jobs.name;
    writeFileSync(join(ship, toDate), 'PAR1 this is not parquet either');
    writeFileSync(join(ship, replaced!.part), 'PAR1 this is not parquet');
    const cut = readFileSync(join(ship, truncated!.part));
    writeFileSync(join(ship, truncated!.part), cut.subarray(0, Math.floor(cut.length / 2)));
    // Same size, footer intact: only the bytes in the middle differ.
    for (const b of [damaged!, jobGrain]) {
      const bytes = readFileSync(join(ship, b.part));
      const mid = Math.floor(bytes.length / 2);
      for (let i = mid; i < mid + 16; i++) bytes[i] = bytes[i]! ^ 0xff;
      writeFileSync(join(ship, b.part), bytes);
    }
    const bad = [replaced!, truncated!, damaged!, jobGrain];

    const { logger, lines } = recordingLogger();
    const warnings = () => lines.filter((l) => l.level === 'warn');
    const res = await buildCcspReport({ type: 'CCSPv2', storage, period: { month: '2024-03' }, params, countUnreachableHosts: true, force: true, logger });
    expect(res.read?.skipped.map((s) => s.name).sort()).toEqual([...bad.map((b) => b.part), toDate].sort());
    for (const b of bad) expect(warnings().some((w) => w.fields?.name === b.part && /rollup cannot be read/.test(w.msg)), b.part).toBe(true);
    expect(warnings().some((w) => w.fields?.name === toDate && /month-to-date usage rollup cannot be read/.test(w.msg))).toBe(true);
    expect(rawDays(res)).toEqual(bad.map((b) => b.date).sort());
    expect(await cells(join(ship, res.name))).toEqual(raw.cells);

    // --write-rollups rebuilds those days from the tarballs; the next report reads only (usage) rollups.
    const rebuilt = await buildCcspReport({ type: 'CCSPv2', storage, period: { month: '2024-03' }, params, countUnreachableHosts: true, force: true, writeRollups: true });
    expect(rawDays(rebuilt)).toEqual([]);
    expect(rebuilt.read?.skipped.map((s) => s.name).sort()).toEqual([...bad.map((b) => b.part), toDate].sort());
    // Rebuilding them wrote the month-to-date merge again, from every day.
    const again = await report(storage, ship, { month: '2024-03' }, true);
    expect(rawDays(again.res)).toEqual([]);
    expect(rollupKinds(again.res)).toEqual(MONTH_TO_DATE);
    expect(again.res.read?.skipped).toEqual([]);
    expect(again.cells).toEqual(raw.cells);
  }, SLOW);

  it('usage rollups that share a job across days are not merged: the job-grain rollups are read', async () => {
    const { ship, storage } = fixtureShip('overlap');
    // The same tarball delivered again in the next day's folder: its jobs are in two days.
    const days = readdirSync(join(ship, 'data/2024/04')).sort();
    const [from, to] = [days.at(-1)!, days.at(-2)!];
    const tarball = readdirSync(join(ship, `data/2024/04/${from}`))[0]!;
    cpSync(join(ship, `data/2024/04/${from}/${tarball}`), join(ship, `data/2024/04/${to}/${tarball.replace(/-0\.tar\.gz$/, '-1.tar.gz')}`));
    const raw = await report(storage, ship, { month: '2024-04' }, true, 'raw');
    await rollDays(storage, '2024-04-01', '2024-05-01', true);
    const rolled = await report(storage, ship, { month: '2024-04' }, true);
    expect(rawDays(rolled.res)).toEqual([]);
    expect(rollupKinds(rolled.res)).toEqual(['job_host_summary']);
    expect(rolled.cells).toEqual(raw.cells);
    // Nor merged month to date.
    for (const f of readdirSync(join(ship, 'rollups/_inputs/period=day'))) expect(JSON.parse(readFileSync(join(ship, 'rollups/_inputs/period=day', f), 'utf8')).monthToDate, f).toBeUndefined();
  }, SLOW);

  it('usage rollups under an organization filter: the same workbook as from the tarballs', async () => {
    const { ship, storage } = fixtureShip('orgs');
    await rollDays(storage, '2024-03-01', '2024-04-01', true);
    await using db = await openDuckDb();
    const orgs = (await db.all<{ o: string }>(`SELECT DISTINCT organization_name AS o FROM read_parquet('${ship}/rollups/job_host_summary/*/*/*.parquet') WHERE organization_name IS NOT NULL ORDER BY 1`)).map((r) => r.o);
    expect(orgs.length).toBeGreaterThan(1);
    const filtered = { ...params, organizationFilter: [orgs[0]!] };
    const build = async (from: 'auto' | 'raw') => {
      const res = await buildCcspReport({ type: 'CCSPv2', storage, period: { month: '2024-03' }, params: filtered, countUnreachableHosts: true, from, force: true });
      return { res, cells: await cells(join(ship, res.name)) };
    };
    const raw = await build('raw');
    const rolled = await build('auto');
    expect(rollupKinds(rolled.res)).toEqual(MONTH_TO_DATE);
    expect(rolled.cells).toEqual(raw.cells);
    expect(JSON.stringify(raw.cells)).not.toContain(orgs[1]!);
  }, SLOW);

  it('a month rollup whose part is corrupt is named, and the month read from its days', async () => {
    const { ship, storage } = fixtureShip('corrupt-month');
    const raw = await report(storage, ship, { month: '2024-04' }, false, 'raw');
    await rollDays(storage, '2024-04-01', '2024-05-01', false, 'month');
    const part = usageRollupName('hosts', 'month', '2024-04');
    const bytes = readFileSync(join(ship, part));
    bytes[Math.floor(bytes.length / 3)] ^= 0x55;
    writeFileSync(join(ship, part), bytes);
    const res = await report(storage, ship, { month: '2024-04' }, false);
    expect(res.res.read?.skipped.map((s) => s.name)).toEqual([part]);
    expect(rawDays(res.res).length).toBeGreaterThan(0);
    expect(res.cells).toEqual(raw.cells);
  }, SLOW);
});

/** The month-to-date record of a day's manifest, if any. */
/** The dates of the day rollups' manifests in `ship`, in order. */
const dayManifestDates = (ship: string) =>
  readdirSync(join(ship, 'rollups/_inputs/period=day'))
    .sort()
    .map((f) => f.replace(/^date=|\.json$/g, ''));
const monthToDateOf = (ship: string, date: string) => JSON.parse(readFileSync(join(ship, manifestName('day', date)), 'utf8')).monthToDate;

/** A tarball of one job host summary row for job 9999 of install `u-span` on `host` at `day` (`YYYY-MM-DD`). */
function spanTarball(ship: string, day: string, host: string): void {
  const src = join(base, `span-${day}`);
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'config.json'), JSON.stringify({ install_uuid: 'u-span' }));
  const at = `${day} 10:00:00+00`;
  const row = { id: 1, created: at, modified: at, host_name: host, changed: 0, dark: 0, failures: 0, ok: 2, processed: 1, skipped: 0, failed: 'f', ignored: 0, rescued: 0 };
  writeFileSync(join(src, 'job_host_summary.csv'), schemaCsv('job_host_summary.csv', [{ ...row, job_remote_id: 9999, job_template_name: 'Span template', organization_name: 'Span org' }]));
  const [y, m, d] = day.split('-');
  execFileSync('tar', ['czf', join(ship, `data/${y}/${m}/${d}/u-span-${day}-000000+0000-${day}-235959+0000-0.tar.gz`), '-C', src, '.']);
}

describe('month-to-date usage rollups', () => {
  it('a run extends the latest earlier merge; whole months in a range each read theirs; the audit lists every tarball', async () => {
    const { ship, storage } = fixtureShip('mtd-runs');
    const range = { since: new Date('2024-02-01T00:00:00Z'), until: new Date('2024-05-01T00:00:00Z') };
    const raw = { march: await report(storage, ship, { month: '2024-03' }, false, 'raw'), range: await report(storage, ship, range, false, 'raw') };
    const { logger, lines } = recordingLogger();
    const roll = (since: string, until: string) => rollup({ storage, since: new Date(`${since}T00:00:00Z`), until: new Date(`${until}T00:00:00Z`), period: 'day', reachableOnly: true, logger });
    // March in three runs (the last two one day each, as a nightly rollup): each merge starts from the previous one.
    await roll('2024-03-01', '2024-03-11');
    expect(monthToDateOf(ship, '2024-03-10').days.map((d: { date: string }) => d.date)).toHaveLength(10);
    // The merge reads the day parts this run stored from its own files: only the earlier merge is fetched.
    const fetched: string[] = [];
    const get = storage.get.bind(storage);
    storage.get = (name) => {
      fetched.push(name);
      return get(name);
    };
    await roll('2024-03-11', '2024-03-18');
    storage.get = get;
    expect(fetched.filter((n) => n.startsWith('rollups/usage_')).sort()).toEqual(
      ['hosts', 'jobs'].map((w) => `rollups/usage_${w}_month_to_date/period=day/date=2024-03-10/part-0.parquet`),
    );
    await roll('2024-03-18', '2024-03-20');
    const written = lines.filter((l) => l.msg === 'month-to-date usage written').map((l) => l.fields);
    expect(written.map((f) => [f?.date, f?.from])).toEqual([
      ['2024-03-10', 'days'],
      ['2024-03-17', '2024-03-10'],
      ['2024-03-19', '2024-03-17'],
    ]);
    // An earlier merge stays in its day's manifest (a report over a range ending that day reads it).
    expect(monthToDateOf(ship, '2024-03-17')).toBeDefined();
    const merged = monthToDateOf(ship, '2024-03-19');
    expect(merged.days.map((d: { date: string }) => d.date)).toEqual(readdirSync(join(ship, 'data/2024/03')).sort().map((d) => `2024-03-${d}`));
    expect(merged.inputs.map((i: { name: string }) => i.name).sort()).toEqual(metricsUtilityTarballs().names.filter((n) => n.startsWith('data/2024/03/')));

    // The merge holds exactly the days' rows merged.
    await using db = await openDuckDb();
    const days = merged.days.map((d: { date: string }) => `'${join(ship, usageRollupName('hosts', 'day', d.date))}'`).join(', ');
    const sums = `SELECT o, t, h, sum(n) AS n, sum(tr) AS tr, min(f) AS f, max(l) AS l, min(jc_first) AS a, max(jc_last) AS b`;
    const diff = await db.all(
      `(${sums} FROM read_parquet([${days}], hive_partitioning = false) GROUP BY ALL EXCEPT ALL ${sums} FROM read_parquet('${join(ship, merged.hosts.name)}', hive_partitioning = false) GROUP BY ALL)
       UNION ALL (${sums} FROM read_parquet('${join(ship, merged.hosts.name)}', hive_partitioning = false) GROUP BY ALL EXCEPT ALL ${sums} FROM read_parquet([${days}], hive_partitioning = false) GROUP BY ALL)`,
    );
    expect(diff).toEqual([]);

    const march = await report(storage, ship, { month: '2024-03' }, false);
    expect(rollupKinds(march.res)).toEqual(MONTH_TO_DATE);
    expect(march.cells).toEqual(raw.march.cells);
    expect((await verifyReport(storage, march.res.name)).ok).toBe(true);
    const audit = JSON.parse(readFileSync(join(ship, march.res.name.replace(/\.xlsx$/, '.inputs.json')), 'utf8'));
    const mtdInput = audit.inputs.find((i: { name: string }) => i.name === merged.hosts.name);
    expect(mtdInput.builtFrom.map((t: { name: string }) => t.name).sort()).toEqual(merged.inputs.map((i: { name: string }) => i.name).sort());

    // February and April too: a range of three whole months reads three merges (no job in two of them).
    await rollDays(storage, '2024-02-01', '2024-03-01', false);
    await rollDays(storage, '2024-04-01', '2024-05-01', false);
    const all = await report(storage, ship, range, false);
    expect(rawDays(all.res)).toEqual([]);
    expect(rollupKinds(all.res)).toEqual(MONTH_TO_DATE);
    // Each month's usage tables and data_collection_status rows.
    expect((all.res.read?.inputs ?? []).filter((i) => i.name.includes('month_to_date')).length).toBe(9);
    expect((all.res.read?.inputs ?? []).filter((i) => i.name.startsWith(`rollups/${STATUS_MERGE}/`)).length).toBe(3);
    expect(all.cells).toEqual(raw.range.cells);
  }, SLOW);

  it('a merge that no longer matches its days (one rolled again, stale or missing) is not read: the days are merged', async () => {
    const { ship, storage } = fixtureShip('mtd-stale');
    const raw = await report(storage, ship, { month: '2024-03' }, true, 'raw');
    await rollDays(storage, '2024-03-01', '2024-04-01', true);
    const last = '2024-03-19';
    const withMerge = readFileSync(join(ship, manifestName('day', last)), 'utf8');
    expect(JSON.parse(withMerge).monthToDate).toBeDefined();

    // A day's usage rollup built again (same rows, other bytes: a key-value note added), its manifest
    // updated, the last day's merge not: the merge no longer names that day's parts, and is not read.
    const day = { manifest: join(ship, manifestName('day', '2024-03-05')), part: join(ship, usageRollupName('hosts', 'day', '2024-03-05')) };
    {
      await using db = await openDuckDb();
      await db.run(`COPY (SELECT * FROM read_parquet('${day.part}', hive_partitioning = false)) TO '${day.part}.new' (FORMAT parquet, KV_METADATA {rebuilt: 'again'})`);
    }
    cpSync(`${day.part}.new`, day.part);
    rmSync(`${day.part}.new`);
    const m = JSON.parse(readFileSync(day.manifest, 'utf8'));
    const rebuilt = readFileSync(day.part);
    m.usage.hosts = { ...m.usage.hosts, size: rebuilt.length, sha256: createHash('sha256').update(rebuilt).digest('hex') };
    writeFileSync(day.manifest, JSON.stringify(m));
    expect(monthToDateOf(ship, last).days.find((d: { date: string }) => d.date === '2024-03-05').hosts).not.toBe(m.usage.hosts.sha256);
    const old = await report(storage, ship, { month: '2024-03' }, true);
    expect(rawDays(old.res)).toEqual([]);
    expect(rollupKinds(old.res)).toEqual(['usage_hosts', 'usage_jobs']);
    expect(old.cells).toEqual(raw.cells);

    // That day rolled up again: the month's latest day has a merge of the current days again.
    await rollDays(storage, '2024-03-05', '2024-03-06', true);
    const fresh = await report(storage, ship, { month: '2024-03' }, true);
    expect(rollupKinds(fresh.res)).toEqual(MONTH_TO_DATE);
    expect(fresh.cells).toEqual(raw.cells);

    // A day's manifest missing: that day is read raw and the rest as rollups, without the merge.
    rmSync(join(ship, manifestName('day', '2024-03-02')));
    const missing = await report(storage, ship, { month: '2024-03' }, true);
    expect(rawDays(missing.res)).toEqual(['2024-03-02']);
    expect(rollupKinds(missing.res)).not.toContain('usage_hosts_month_to_date');
    expect(missing.cells).toEqual(raw.cells);

    // Rolled up again: the merge is read again. Then a tarball added to a day: that day is stale and read raw.
    await rollDays(storage, '2024-03-02', '2024-03-03', true);
    expect((await report(storage, ship, { month: '2024-03' }, true)).res.read?.inputs.some((i) => i.name.includes('month_to_date'))).toBe(true);
    spanTarball(ship, '2024-03-07', 'late-host');
    const stale = await report(storage, ship, { month: '2024-03' }, true);
    expect(rawDays(stale.res)).toEqual(['2024-03-07']);
    expect(rollupKinds(stale.res)).not.toContain('usage_hosts_month_to_date');
    expect(JSON.stringify(stale.cells['Managed nodes'])).toContain('late-host');
    expect(stale.cells).toEqual((await report(storage, ship, { month: '2024-03' }, true, 'raw')).cells);
  }, SLOW);

  it('a job with hosts on two days: no merge is written, and the report reads the job-grain rollups', async () => {
    const { ship, storage } = fixtureShip('mtd-span');
    spanTarball(ship, '2024-04-15', 'span-a');
    spanTarball(ship, '2024-04-16', 'span-b');
    const raw = await report(storage, ship, { month: '2024-04' }, false, 'raw');
    expect(JSON.stringify(raw.cells['Managed nodes'])).toContain('span-b');
    const { logger, lines } = recordingLogger();
    await rollup({ storage, since: new Date('2024-04-01T00:00:00Z'), until: new Date('2024-05-01T00:00:00Z'), period: 'day', reachableOnly: true, logger });
    expect(lines.some((l) => l.msg === 'month-to-date usage not written: a job is in two days')).toBe(true);
    for (const d of ['15', '16', '17']) expect(monthToDateOf(ship, `2024-04-${d}`)).toBeUndefined();
    const rolled = await report(storage, ship, { month: '2024-04' }, false);
    expect(rawDays(rolled.res)).toEqual([]);
    expect(rollupKinds(rolled.res)).toEqual(['job_host_summary']);
    expect(rolled.cells).toEqual(raw.cells);
  }, SLOW);
});

/** Sheets that read only the per-host and per-organization rows: a report of them reads a merge's ready sheet rows. */
const READY_SHEETS = ['ccsp_summary', 'managed_nodes', 'usage_by_organizations', 'indirectly_managed_nodes', 'usage_by_collections', 'data_collection_status'];
const READY_PARTS = ['usage_sheet_hosts_month_to_date', 'usage_sheet_orgs_month_to_date'];

describe('month-to-date sheet rows', () => {
  const readyParams = { ...params, sheets: READY_SHEETS };
  async function build(storage: DirectoryStorage, ship: string, p: Period, opts: { countUnreachableHosts?: boolean; from?: 'auto' | 'raw'; type?: 'CCSP' | 'CCSPv2'; params?: typeof params; logger?: Logger } = {}) {
    const res = await buildCcspReport({ type: opts.type ?? 'CCSPv2', storage, period: p, params: opts.params ?? readyParams, countUnreachableHosts: opts.countUnreachableHosts ?? false, from: opts.from ?? 'auto', force: true, ...(opts.logger ? { logger: opts.logger } : {}) });
    expect(res.status).toBe('written');
    return { res, cells: await cells(join(ship, res.name)) };
  }

  for (const countUnreachableHosts of [false, true]) {
    it(`${countUnreachableHosts ? 'counting' : 'dropping'} unreachable hosts: a whole month reads its merge's sheet rows, the same workbook as from the tarballs; other reads do not`, async () => {
      const { ship, storage } = fixtureShip(`ready-${countUnreachableHosts}`);
      const range = { since: new Date('2024-03-01T00:00:00Z'), until: new Date('2024-05-01T00:00:00Z') };
      const raw = new Map<string, Awaited<ReturnType<typeof build>>>();
      for (const p of [...PERIODS, range]) raw.set(label(p), await build(storage, ship, p, { countUnreachableHosts, from: 'raw' }));
      await rollDays(storage, '2024-02-01', '2024-05-01', countUnreachableHosts);
      for (const p of PERIODS) {
        const rolled = await build(storage, ship, p, { countUnreachableHosts });
        expect(rawDays(rolled.res), label(p)).toEqual([]);
        // A range not from a month's first day has no merge standing for all its days.
        expect(rollupKinds(rolled.res), label(p)).toEqual('month' in p ? READY_PARTS : ['usage_hosts', ...MONTH_TO_DATE, 'usage_jobs'].sort());
        expect(rolled.cells, label(p)).toEqual(raw.get(label(p))!.cells);
        if ('month' in p) expect((await verifyReport(storage, rolled.res.name)).ok).toBe(true);
      }
      // Two whole months: two merges, each read as usage tables.
      const two = await build(storage, ship, range, { countUnreachableHosts });
      expect(rollupKinds(two.res)).toEqual(MONTH_TO_DATE);
      expect(two.cells).toEqual(raw.get(label(range))!.cells);
    }, SLOW);
  }

  it('the ready rows are the sheet aggregations of the merged usage tables; the audit names the tarballs they were built from', async () => {
    const { ship, storage } = fixtureShip('ready-rows');
    await rollDays(storage, '2024-03-01', '2024-04-01', false);
    const merged = monthToDateOf(ship, dayManifestDates(ship).at(-1)!);
    await using db = await openDuckDb();
    const read = (name: string) => `read_parquet('${join(ship, name)}', hive_partitioning = false)`;
    const same = async (a: string, b: string) => expect(await db.all(`(${a} EXCEPT ALL ${b}) UNION ALL (${b} EXCEPT ALL ${a})`)).toEqual([]);
    const hosts = read(merged.hosts.name);
    // Written independently of usage-sheets.ts: what the sheets count per host and per organization.
    await same(`SELECT h, count(DISTINCT o), sum(n), sum(tr), min(f), max(l) FROM ${hosts} GROUP BY h`, `SELECT h, orgs, n, tr, f, l FROM ${read(merged.sheets.hosts.name)}`);
    const runs = `SELECT o, count(*) AS runs FROM (SELECT DISTINCT o, u, j FROM ${read(merged.jobs.name)} WHERE direct) GROUP BY o`;
    const orgs = `SELECT o, count(DISTINCT h) AS hosts, sum(n) AS n, sum(tr) AS tr FROM ${hosts} GROUP BY o`;
    await same(`SELECT COALESCE(a.o, b.o), a.hosts, a.n, a.tr, b.runs FROM (${orgs}) a FULL JOIN (${runs}) b ON a.o IS NOT DISTINCT FROM b.o`, `SELECT o, hosts, n, tr, runs FROM ${read(merged.sheets.orgs.name)}`);
    const march = await build(storage, ship, { month: '2024-03' });
    const audit = JSON.parse(readFileSync(join(ship, march.res.name.replace(/\.xlsx$/, '.inputs.json')), 'utf8'));
    const input = audit.inputs.find((i: { name: string }) => i.name === merged.sheets.hosts.name);
    expect(input.builtFrom.map((t: { name: string }) => t.name).sort()).toEqual(merged.inputs.map((i: { name: string }) => i.name).sort());
  }, SLOW);

  it('not for other parameters: an organization filter, a sheet at another grain, ccsp-experimental, CCSP', async () => {
    const { ship, storage } = fixtureShip('ready-params');
    await rollDays(storage, '2024-03-01', '2024-04-01', true);
    const month = { month: '2024-03' };
    const orgs = (await build(storage, ship, month, { countUnreachableHosts: true })).cells['Usage by organizations']!;
    const org = String(orgs.find((r, i) => i > 0 && r[0])![0]);
    for (const variant of [
      { params: { ...readyParams, organizationFilter: [org] } },
      { params: { ...readyParams, sheets: [...READY_SHEETS, 'jobs'] } },
      { params: { ...readyParams, sheets: [...READY_SHEETS, 'managed_nodes_by_organizations'] } },
      { params: { ...readyParams, deduplicator: 'ccsp-experimental' as const } },
      { type: 'CCSP' as const, params: { ...readyParams, sheets: ['ccsp_summary', 'managed_nodes'] } },
    ]) {
      const what = JSON.stringify(variant).slice(0, 160);
      const rolled = await build(storage, ship, month, { countUnreachableHosts: true, ...variant });
      expect(rollupKinds(rolled.res), what).not.toContain(READY_PARTS[0]);
      expect(rolled.cells, what).toEqual((await build(storage, ship, month, { countUnreachableHosts: true, ...variant, from: 'raw' })).cells);
    }
  }, SLOW);

  it('a month reads its merge\'s data_collection_status rows, one part; a day part that cannot be read as such is named and its day read raw', async () => {
    const { ship, storage } = fixtureShip('ready-dcs');
    const raw = await build(storage, ship, { month: '2024-03' }, { from: 'raw' });
    await rollDays(storage, '2024-03-01', '2024-04-01', false);
    const days = readdirSync(join(ship, 'rollups/_inputs/period=day')).map((f) => JSON.parse(readFileSync(join(ship, 'rollups/_inputs/period=day', f), 'utf8')));
    const all = await build(storage, ship, { month: '2024-03' });
    const dcsInputs = (all.res.read?.inputs ?? []).filter((i) => /^rollups\/(usage_)?data_collection_status/.test(i.name));
    expect(dcsInputs.map((i) => i.name)).toEqual([monthToDateOf(ship, days.map((m) => m.date).sort().at(-1)!).status.name]);
    expect(dcsInputs[0]!.rows).toBe(days.reduce((n, m) => n + (m.parts.data_collection_status?.rows ?? 0), 0));
    expect(dcsInputs[0]!.rows).toBeGreaterThan(0);
    expect(all.cells).toEqual(raw.cells);
    // The audit names the tarballs of every day merged; the workbook still verifies.
    const audit = JSON.parse(readFileSync(join(ship, all.res.name.replace(/\.xlsx$/, '.inputs.json')), 'utf8'));
    const input = audit.inputs.find((i: { name: string }) => i.name === dcsInputs[0]!.name);
    expect(input.builtFrom.map((t: { name: string }) => t.name).sort()).toEqual(days.flatMap((m) => m.inputs.map((i: { name: string }) => i.name)).sort());
    expect((await verifyReport(storage, all.res.name)).ok).toBe(true);
    // A part that matches its manifest but whose `since` is not a timestamp: the merge no longer stands for its day.
    const day = dayManifestDates(ship)[1]!;
    const part = rollupName('data_collection_status', 'day', day);
    {
      await using db = await openDuckDb();
      await db.run(`COPY (SELECT * REPLACE ('not a time' AS since) FROM read_parquet('${join(ship, part)}', hive_partitioning = false)) TO '${join(ship, part)}.new' (FORMAT parquet)`);
    }
    cpSync(join(ship, `${part}.new`), join(ship, part));
    rmSync(join(ship, `${part}.new`));
    const manifest = join(ship, manifestName('day', day));
    const m = JSON.parse(readFileSync(manifest, 'utf8'));
    const bytes = readFileSync(join(ship, part));
    m.parts.data_collection_status = { ...m.parts.data_collection_status, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    writeFileSync(manifest, JSON.stringify(m));
    const res = await build(storage, ship, { month: '2024-03' });
    expect(res.res.read?.skipped.map((s) => s.name)).toEqual([part]);
    expect(rawDays(res.res)).toEqual([day]);
    expect(res.cells).toEqual(raw.cells);
  }, SLOW);

  it("a merge's data_collection_status part damaged or missing is named and the days' parts read; a merge recorded without it is written again", async () => {
    const { ship, storage } = fixtureShip('ready-dcs-merge');
    const raw = await build(storage, ship, { month: '2024-03' }, { from: 'raw' });
    await rollDays(storage, '2024-03-01', '2024-04-01', false);
    const days = dayManifestDates(ship);
    const lastDay = days.at(-1)!;
    const manifest = join(ship, manifestName('day', lastDay));
    const withStatus = JSON.parse(readFileSync(manifest, 'utf8'));
    const merged = withStatus.monthToDate.status.name as string;
    const dayParts = (r: BuildResult) => (r.read?.inputs ?? []).filter((i) => i.name.startsWith('rollups/data_collection_status/'));
    const { logger, lines } = recordingLogger();
    const good = readFileSync(join(ship, merged));
    const damagedBytes = Buffer.from(good);
    damagedBytes[Math.floor(damagedBytes.length / 2)] ^= 0xff;
    for (const damage of [() => writeFileSync(join(ship, merged), damagedBytes), () => rmSync(join(ship, merged))]) {
      damage();
      lines.length = 0;
      const damaged = await build(storage, ship, { month: '2024-03' }, { logger });
      expect(damaged.res.read?.skipped.map((s) => s.name)).toEqual([merged]);
      expect(lines.some((l) => l.level === 'warn' && l.fields?.name === merged && /month-to-date data collection status cannot be read/.test(l.msg))).toBe(true);
      // Only the status rows fall back: the sheet rows are still the merge's.
      expect(rollupKinds(damaged.res)).toEqual(READY_PARTS);
      expect(dayParts(damaged.res)).toHaveLength(days.length);
      expect(rawDays(damaged.res)).toEqual([]);
      expect(damaged.cells).toEqual(raw.cells);
      writeFileSync(join(ship, merged), good);
    }

    // A merge recorded without the days' status hashes (written by an earlier version) stands for no day:
    // the days' usage rollups are merged, and the next rollup run writes the merge again with its status rows.
    const { status: _, ...older } = withStatus.monthToDate;
    const olderDays = older.days.map(({ status: __, ...d }: { status?: string }) => d);
    writeFileSync(manifest, JSON.stringify({ ...withStatus, monthToDate: { ...older, days: olderDays } }));
    const before = await build(storage, ship, { month: '2024-03' });
    expect(rollupKinds(before.res)).toEqual(['usage_hosts', 'usage_jobs']);
    expect(before.cells).toEqual(raw.cells);
    await rollDays(storage, lastDay, new Date(Date.parse(`${lastDay}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10), false);
    expect(monthToDateOf(ship, lastDay).status).toBeDefined();
    const after = await build(storage, ship, { month: '2024-03' });
    expect(rollupKinds(after.res)).toEqual(READY_PARTS);
    expect(dayParts(after.res)).toEqual([]);
    expect(after.cells).toEqual(raw.cells);
  }, SLOW);

  it('a merge without sheet rows, or whose sheet rows are damaged, is read as usage tables; a later rollup run writes them again', async () => {
    const { ship, storage } = fixtureShip('ready-fallback');
    const raw = await build(storage, ship, { month: '2024-03' }, { from: 'raw' });
    await rollDays(storage, '2024-03-01', '2024-04-01', false);
    const lastDay = dayManifestDates(ship).at(-1)!;
    const manifest = join(ship, manifestName('day', lastDay));
    const withSheets = JSON.parse(readFileSync(manifest, 'utf8'));

    // Damaged mid-file, same size: named, and the merge's usage tables read instead.
    const part = join(ship, withSheets.monthToDate.sheets.hosts.name);
    const good = readFileSync(part);
    const bytes = Buffer.from(good);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(part, bytes);
    const { logger, lines } = recordingLogger();
    const warnings = () => lines.filter((l) => l.level === 'warn');
    const damaged = await build(storage, ship, { month: '2024-03' }, { logger });
    expect(damaged.res.read?.skipped.map((s) => s.name)).toEqual([withSheets.monthToDate.sheets.hosts.name]);
    expect(warnings().some((w) => w.fields?.name === withSheets.monthToDate.sheets.hosts.name && /month-to-date usage sheets cannot be read/.test(w.msg))).toBe(true);
    expect(rollupKinds(damaged.res)).toEqual(MONTH_TO_DATE);
    expect(damaged.cells).toEqual(raw.cells);
    writeFileSync(part, good);

    // A merge recorded without sheet rows (written by an earlier version): its usage tables are read.
    const { sheets: _, ...older } = withSheets.monthToDate;
    writeFileSync(manifest, JSON.stringify({ ...withSheets, monthToDate: older }));
    const before = await build(storage, ship, { month: '2024-03' });
    expect(rollupKinds(before.res)).toEqual(MONTH_TO_DATE);
    expect(before.cells).toEqual(raw.cells);
    // The next rollup run of a day of that month writes the merge again, with its sheet rows.
    await rollDays(storage, lastDay, new Date(Date.parse(`${lastDay}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10), false);
    expect(monthToDateOf(ship, lastDay).sheets).toBeDefined();
    const after = await build(storage, ship, { month: '2024-03' });
    expect(rollupKinds(after.res)).toEqual(READY_PARTS);
    expect(after.cells).toEqual(raw.cells);
  }, SLOW);
});
