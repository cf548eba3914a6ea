import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  addRollups,
  collectionStatusRows,
  DataCollectionStatus,
  inventoryScope,
  loadTarballs,
  MainHost,
  manifestName,
  openDuckDb,
  readManifest,
  rollup,
  type RollupPeriod,
  type TallyDuckDb,
} from '@tally/dataframes';
import { DirectoryStorage, type PutSource } from '@tally/storage';
import { metricsUtilityTarballs, packTarball, writeIndirectLake } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// main_host (Inventory Scope) and data_collection_status (the Data collection status sheet, the
// gap warnings) read back from day, week and month rollups exactly as from the tarballs.

let base: string;
let db: TallyDuckDb;
beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'tally-rollup-extras-'));
  cpSync(join(metricsUtilityTarballs().base, 'data'), join(base, 'data'), { recursive: true });
  writeIndirectLake(base);
  db = await openDuckDb({ memoryLimit: '256MB', threads: 2 });
});
afterAll(async () => {
  await db.close();
  rmSync(base, { recursive: true, force: true });
});

const FEB_TO_JULY = { since: new Date('2024-02-01T00:00:00Z'), until: new Date('2024-08-01T00:00:00Z') };

describe('rollups of main_host and data_collection_status', () => {
  it('day, week and month rollups give the rows of the tarballs', async () => {
    const storage = new DirectoryStorage({ base });
    const rawStatus = new DataCollectionStatus(db);
    const rawHosts = new MainHost(db);
    const raw = await loadTarballs([rawStatus, rawHosts], { storage, ...FEB_TO_JULY });
    expect(raw.failures).toEqual([]);
    const expected = { status: await collectionStatusRows(rawStatus), scope: await inventoryScope(rawHosts) };
    // Fixture months and July's crafted lake: a failed collection, main_host and main_host_daily.
    expect(expected.status.length).toBeGreaterThan(30);
    expect(expected.status.some((r) => r.status === 'failed')).toBe(true);
    expect(expected.scope.map((r) => r.hostName)).toEqual(['10.0.0.9', 'db1', 'web1']);

    for (const period of ['day', 'week', 'month'] as RollupPeriod[]) {
      const res = await rollup({ storage, ...FEB_TO_JULY, period, kinds: ['main_host', 'data_collection_status'], duckdb: { memoryLimit: '256MB', threads: 2 } });
      expect(res.failures).toEqual([]);
      const status = new DataCollectionStatus(db);
      const hosts = new MainHost(db);
      // Weeks start on Mondays: the window is widened to whole weeks.
      const window = period === 'week' ? { since: new Date('2024-01-29T00:00:00Z'), until: new Date('2024-08-05T00:00:00Z') } : FEB_TO_JULY;
      const read = await addRollups(status, { storage, period, ...window });
      await addRollups(hosts, { storage, period, ...window });
      expect(read.length, period).toBe(res.parts.filter((p) => p.kind === 'data_collection_status').length);
      expect(read.length, period).toBeGreaterThan(0);
      expect(await collectionStatusRows(status), period).toEqual(expected.status);
      expect(await inventoryScope(hosts), period).toEqual(expected.scope);
      await status.drop();
      await hosts.drop();
    }
  }, 120_000);
});

describe('periods rolled two at a time', () => {
  it('report progress, log lines and results in period order, as if rolled one by one', async () => {
    const storage = new DirectoryStorage({ base });
    const said: string[] = [];
    const logger = {
      debug() {},
      info: (msg: string, f?: Record<string, unknown>) => void said.push(`${msg} ${String(f?.name ?? '')}`),
      warn() {},
      error() {},
      child: () => logger,
    };
    const progress: { phase: string; date: string; done: number; tarballs: number; rows: number }[] = [];
    const res = await rollup({
      storage,
      ...FEB_TO_JULY,
      period: 'day',
      kinds: ['data_collection_status'],
      logger,
      onProgress: (p) => void progress.push({ phase: p.phase, date: p.date ?? '', done: p.days?.done ?? -1, tarballs: p.tarballs ?? -1, rows: p.rows ?? -1 }),
    });
    const dates = res.parts.map((p) => p.date);
    expect(dates.length).toBeGreaterThan(10);
    expect(dates).toEqual([...dates].sort());
    expect(res.tarballs).toEqual([...res.tarballs].sort());
    // Each day with tarballs (some have no data_collection_status part): extract, aggregate, write, in turn; counts only grow.
    const days = progress.filter((p) => p.phase === 'write').map((p) => p.date);
    expect(days).toEqual([...days].sort());
    expect(dates.every((d) => days.includes(d))).toBe(true);
    expect(progress.map((p) => `${p.phase} ${p.date}`)).toEqual(days.flatMap((d) => [`extract ${d}`, `aggregate ${d}`, `write ${d}`]));
    for (const key of ['done', 'tarballs', 'rows'] as const) {
      const seen = progress.map((p) => p[key]);
      expect(seen, key).toEqual([...seen].sort((a, b) => a - b));
    }
    expect(progress.at(-1)?.rows).toBe(res.parts.reduce((n, p) => n + p.rows, 0));
    expect(said.filter((s) => s.startsWith('rollup written'))).toEqual(res.parts.map((p) => `rollup written ${p.name}`));
  }, 120_000);
  const logged = (debug: string[]) => {
    const logger = { debug: (msg: string) => void debug.push(msg), info() {}, warn() {}, error() {}, child: () => logger };
    return logger;
  };
  const HANDED_OVER = "rollup lane given the run's DuckDB threads and memory";
  const MARCH_1_TO_11 = { since: new Date('2024-03-01T00:00:00Z'), until: new Date('2024-03-12T00:00:00Z') };

  it('a lane out of periods gives its threads and memory to the one still rolling: the files are those of one lane', async () => {
    const storage = new DirectoryStorage({ base });
    const debug: string[] = [];
    const two = await rollup({ storage, ...MARCH_1_TO_11, period: 'day', prefix: 'lanes-2', logger: logged(debug), duckdb: { memoryLimit: '256MB', threads: 2 } });
    expect(debug.filter((m) => m === HANDED_OVER)).toHaveLength(1);
    const one = await rollup({ storage, ...MARCH_1_TO_11, period: 'day', prefix: 'lanes-1', duckdb: { memoryLimit: '256MB', threads: 1 } });
    const described = (p: { kind: string; date: string; rows: number }) => `${p.kind} ${p.date} ${p.rows}`;
    expect(two.parts.map(described)).toEqual(one.parts.map(described));
    // Every Parquet file: the day parts, their usage and content rollups, the month-to-date merge.
    const files = (prefix: string) => (readdirSync(join(base, prefix), { recursive: true }) as string[]).filter((f) => f.endsWith('.parquet')).sort();
    expect(files('lanes-2')).toEqual(files('lanes-1'));
    expect(files('lanes-2').some((f) => f.includes('month_to_date'))).toBe(true);
    for (const f of files('lanes-2')) {
      const [a, b] = ['lanes-2', 'lanes-1'].map((prefix) => `read_parquet('${join(base, prefix, f)}')`);
      expect(await db.all(`DESCRIBE SELECT * FROM ${a}`), f).toEqual(await db.all(`DESCRIBE SELECT * FROM ${b}`));
      const differ = await db.all<{ n: bigint }>(`SELECT (SELECT count(*) FROM (FROM ${a} EXCEPT ALL FROM ${b})) + (SELECT count(*) FROM (FROM ${b} EXCEPT ALL FROM ${a})) AS n`);
      expect(differ[0]!.n, f).toBe(0n);
    }
  }, 120_000);

  it('a failure in the lane left rolling alone, with the run\'s threads, still fails the run', async () => {
    const debug: string[] = [];
    const last = manifestName('day', '2024-03-11', 'lanes-fail');
    // The last day's manifest fails once the other lane has left and handed its threads over.
    class FailingLast extends DirectoryStorage {
      override async put(name: string, source: PutSource): Promise<void> {
        if (name !== last) return super.put(name, source);
        while (!debug.includes(HANDED_OVER)) await new Promise((r) => setTimeout(r, 10));
        throw new Error('disk full');
      }
    }
    const run = rollup({ storage: new FailingLast({ base }), ...MARCH_1_TO_11, period: 'day', prefix: 'lanes-fail', logger: logged(debug), duckdb: { memoryLimit: '256MB', threads: 2 } });
    await expect(run).rejects.toThrow('disk full');
    const storage = new DirectoryStorage({ base });
    // The days before stand, each a whole rollup; no month-to-date merge is written for a failed run.
    const before = await readManifest(storage, 'day', '2024-03-10', 'lanes-fail');
    expect(before?.inputs.length).toBeGreaterThan(0);
    expect(before?.monthToDate).toBeUndefined();
    expect(await readManifest(storage, 'day', '2024-03-11', 'lanes-fail')).toBeUndefined();
  }, 120_000);

  it('a tarball with one bad data_collection_status row contributes nothing to any part (its CSV is read from the scan)', async () => {
    const lake = mkdtempSync(join(tmpdir(), 'tally-rollup-bad-status-'));
    try {
      const jhs = 'id,created,modified,host_name,changed,dark,failures,ok,processed,skipped,failed,ignored,rescued,job_remote_id,job_template_remote_id,job_template_name,inventory_remote_id,inventory_name,organization_remote_id,organization_name,project_remote_id,project_name';
      const tarball = (name: string, host: string, started: string) =>
        packTarball(join(lake, 'data/2024/03/01', name), [
          { name: './config.json', content: JSON.stringify({ install_uuid: `uuid-${host}` }) },
          { name: './manifest.json', content: JSON.stringify({ 'job_host_summary.csv': '1.0', 'config.json': '1.0', 'data_collection_status.csv': '1.0' }) },
          { name: './job_host_summary.csv', content: `${jhs}\n1,2024-03-01 10:00:00+00,2024-03-01 10:00:00+00,${host},0,0,0,3,3,0,0,0,0,7,1,Patch,1,inv,1,Org,1,proj\n` },
          {
            name: './data_collection_status.csv',
            content: `collection_start_timestamp,since,until,file_name,status,elapsed\n${started},2024-03-01 00:00:00+00:00,2024-03-02 00:00:00+00:00,job_host_summary.csv,ok,0\n`,
          },
        ]);
      await tarball('a.tar.gz', 'good', '2024-03-02 07:59:01+00:00');
      await tarball('b.tar.gz', 'bad', 'not a time');
      const storage = new DirectoryStorage({ base: lake });
      const res = await rollup({ storage, since: new Date('2024-03-01T00:00:00Z'), until: new Date('2024-03-02T00:00:00Z'), period: 'day' });
      expect(res.failures.map((f) => [f.file, f.member])).toEqual([['data/2024/03/01/b.tar.gz', 'data_collection_status.csv']]);
      expect(res.parts.map((p) => [p.kind, p.rows])).toEqual([
        ['job_host_summary', 1],
        ['data_collection_status', 1],
      ]);
      const hosts = await db.all<{ h: string }>(`SELECT host_name AS h FROM read_parquet('${join(lake, res.parts[0]!.name)}')`);
      expect(hosts).toEqual([{ h: 'good' }]);
    } finally {
      rmSync(lake, { recursive: true, force: true });
    }
  }, 60_000);
});
