import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manifestName, openDuckDb, rollup, type TallyDuckDb } from '@tally/dataframes';
import { DirectoryStorage } from '@tally/storage';
import { metricsUtilityTarballs, recordingLogger } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PremergedMonth, premergeMonth, writeMonthsToDate } from '../src/month-to-date.js';

// The month-to-date merge written from a merge of the month's first days made ahead (while a
// rollup's last days were still rolled up) is the one written from every day.

const SLOW = 120_000;
let base: string;
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'tally-mtd-'));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** A ship of the fixture tarballs with March rolled up by day (one lane: nothing merged ahead). */
async function rolledMarch(name: string, runs: readonly string[] = ['2024-03-01', '2024-04-01']): Promise<{ ship: string; storage: DirectoryStorage; last: string }> {
  const ship = join(base, name);
  cpSync(join(metricsUtilityTarballs().base, 'data'), join(ship, 'data'), { recursive: true });
  const storage = new DirectoryStorage({ base: ship });
  for (const [i, since] of runs.slice(0, -1).entries()) {
    await rollup({ storage, since: new Date(`${since}T00:00:00Z`), until: new Date(`${runs[i + 1]}T00:00:00Z`), period: 'day', duckdb: { threads: 1 } });
  }
  const last = readdirSync(join(ship, 'rollups/_inputs/period=day'))
    .map((f) => f.replace(/^date=|\.json$/g, ''))
    .sort()
    .at(-1)!;
  return { ship, storage, last };
}

const manifestOf = (ship: string, date: string) => JSON.parse(readFileSync(join(ship, manifestName('day', date)), 'utf8'));

/** The merge's parts' rows (each part by name) and its record without the parts' sizes and hashes. */
async function mergeOf(db: TallyDuckDb, ship: string, date: string): Promise<{ rows: Record<string, unknown[]>; record: unknown }> {
  const merged = manifestOf(ship, date).monthToDate;
  const parts = { hosts: merged.hosts, jobs: merged.jobs, sheet_hosts: merged.sheets.hosts, sheet_orgs: merged.sheets.orgs, status: merged.status };
  const rows: Record<string, unknown[]> = {};
  for (const [k, p] of Object.entries(parts)) {
    rows[k] = await db.all(`SELECT * FROM read_parquet('${join(ship, p.name)}', hive_partitioning = false) ORDER BY ALL`);
    rows[`${k}:schema`] = await db.all(`DESCRIBE SELECT * FROM read_parquet('${join(ship, p.name)}', hive_partitioning = false)`);
  }
  return { rows, record: JSON.parse(JSON.stringify(merged, (k, v) => (k === 'size' || k === 'sha256' ? undefined : v))) };
}

/** Forget the last day's merge, as if the run had not written it yet. */
function dropMerge(ship: string, date: string): void {
  const { monthToDate: _, ...m } = manifestOf(ship, date);
  writeFileSync(join(ship, manifestName('day', date)), JSON.stringify(m));
}

/** Merge March's days before `until` ahead, `days` at a time, as a rollup's idle lane does. */
async function premerge(db: TallyDuckDb, storage: DirectoryStorage, dir: string, until: string, days: number): Promise<PremergedMonth | undefined> {
  let from: PremergedMonth | undefined;
  const at = { storage, prefix: undefined, dir, logger: recordingLogger().logger, settled: (d: string) => d < until, days };
  for (let next = await premergeMonth(db, '2024-03', { ...at, from }); next; next = await premergeMonth(db, '2024-03', { ...at, from })) from = next;
  return from;
}

describe('month-to-date merge from days merged ahead', () => {
  it('is the merge of every day; one whose days no longer match is not read', async () => {
    const { ship, storage, last } = await rolledMarch('ahead');
    await using db = await openDuckDb({ threads: 1 });
    const fromDays = await mergeOf(db, ship, last);
    const dir = mkdtempSync(join(base, 'scratch-'));

    dropMerge(ship, last);
    const ahead = await premerge(db, storage, dir, '2024-03-20', 3);
    const merged = ahead?.days.map((d) => d.date) ?? [];
    expect(merged.length).toBeGreaterThan(3);
    expect(merged.every((d) => d < '2024-03-20')).toBe(true);
    const { logger, lines } = recordingLogger();
    await writeMonthsToDate(db, [last], { storage, prefix: undefined, dir, logger, premerged: new Map([['2024-03', ahead!]]) });
    expect(lines.find((l) => l.msg === 'month-to-date usage written')?.fields).toMatchObject({ premerged: merged.length, from: 'days' });
    expect(await mergeOf(db, ship, last)).toEqual(fromDays);

    // A day among those merged ahead rolled again since (another hash): every day is merged.
    dropMerge(ship, last);
    const stale = { ...ahead!, days: ahead!.days.map((d, i) => (i === 1 ? { ...d, hosts: '0'.repeat(64) } : d)) };
    const again = recordingLogger();
    await writeMonthsToDate(db, [last], { storage, prefix: undefined, dir, logger: again.logger, premerged: new Map([['2024-03', stale]]) });
    expect(again.lines.find((l) => l.msg === 'month-to-date usage written')?.fields?.premerged).toBeUndefined();
    expect(await mergeOf(db, ship, last)).toEqual(fromDays);
  }, SLOW);

  it("starts from the latest earlier merge that still matches its days, as the merge at the end does", async () => {
    const { ship, storage, last } = await rolledMarch('ahead-base', ['2024-03-01', '2024-03-11', '2024-04-01']);
    await using db = await openDuckDb({ threads: 1 });
    const fromDays = await mergeOf(db, ship, last);
    const earlier = readdirSync(join(ship, 'rollups/_inputs/period=day'))
      .map((f) => f.replace(/^date=|\.json$/g, ''))
      .filter((d) => d < '2024-03-11')
      .sort()
      .at(-1)!;
    expect(manifestOf(ship, earlier).monthToDate).toBeDefined();
    dropMerge(ship, last);
    const dir = mkdtempSync(join(base, 'scratch-'));
    const ahead = await premerge(db, storage, dir, '2024-03-25', 2);
    expect(ahead?.base).toBe(earlier);
    const { logger, lines } = recordingLogger();
    await writeMonthsToDate(db, [last], { storage, prefix: undefined, dir, logger, premerged: new Map([['2024-03', ahead!]]) });
    expect(lines.find((l) => l.msg === 'month-to-date usage written')?.fields).toMatchObject({ premerged: ahead!.days.length, from: earlier });
    expect(await mergeOf(db, ship, last)).toEqual(fromDays);
  }, SLOW);

  it('days merged ahead that share a job: no merge is written', async () => {
    const { ship, storage, last } = await rolledMarch('ahead-overlap');
    await using db = await openDuckDb({ threads: 1 });
    dropMerge(ship, last);
    const dir = mkdtempSync(join(base, 'scratch-'));
    const ahead = await premerge(db, storage, dir, '2024-03-20', 30);
    const { logger, lines } = recordingLogger();
    await writeMonthsToDate(db, [last], { storage, prefix: undefined, dir, logger, premerged: new Map([['2024-03', { ...ahead!, overlap: true }]]) });
    expect(lines.some((l) => l.msg === 'month-to-date usage not written: a job is in two days')).toBe(true);
    expect(manifestOf(ship, last).monthToDate).toBeUndefined();
  }, SLOW);
});
