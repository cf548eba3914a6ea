import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addRollups, JobHostSummary, loadTarballs, MainHost, MainJobevent, openDuckDb, rollup, rollupName, type Dataframe, type RollupPeriod, type TallyDuckDb } from '@tally/dataframes';
import { periodWindows } from '../src/rollup.js';
import { packTarball, type PackMember, schemaCsv } from '@tally/testkit';
import { DirectoryStorage, type Store } from '@tally/storage';
import { metricsUtilityTarballs, seededRandom } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
let db: TallyDuckDb;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-rollup-test-'));
  db = await openDuckDb({ memoryLimit: '256MB', threads: 2 });
});
afterAll(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

const rng = seededRandom;

const SCHEMAS = {
  '1.0': 'id,created,modified,host_name,changed,dark,failures,ok,processed,skipped,failed,ignored,rescued,job_remote_id,job_template_remote_id,job_template_name,inventory_remote_id,inventory_name,organization_remote_id,organization_name,project_remote_id,project_name',
  '1.1': 'id,created,modified,host_name,host_remote_id,ansible_host_variable,ansible_connection_variable,changed,dark,failures,ok,processed,skipped,failed,ignored,rescued,job_remote_id,job_template_remote_id,job_template_name,inventory_remote_id,inventory_name,organization_remote_id,organization_name,project_remote_id,project_name',
  host_id:
    'id,created,modified,host_name,host_id,ansible_host_variable,ansible_connection_variable,changed,dark,failures,ok,processed,skipped,failed,ignored,rescued,job_remote_id,job_template_remote_id,job_template_name,inventory_remote_id,inventory_name,organization_remote_id,organization_name,project_remote_id,project_name',
  '1.2': 'id,created,modified,host_name,host_remote_id,ansible_host_variable,ansible_connection_variable,changed,dark,failures,ok,processed,skipped,failed,ignored,rescued,job_created,job_remote_id,job_template_remote_id,job_template_name,inventory_remote_id,inventory_name,organization_remote_id,organization_name,project_remote_id,project_name',
} as const;

const q = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
const pad = (x: number) => String(x).padStart(2, '0');

/** Random daily tarballs for March 2024 (plus one corrupt one) under `base`. */
async function generate(base: string, seed: number): Promise<void> {
  const r = rng(seed);
  const orgs = ['Org A', 'Org B', 'Zeta, Inc.', ''];
  const hosts = Array.from({ length: 12 }, (_, i) => `host ${i}`);
  const templates = ['Deploy "web"', 'Patch', 'Scan\nmultiline'];
  let id = 0;
  for (let day = 1; day <= 31; day++) {
    // About 8 data days a month, sometimes several (overlapping) tarballs a day.
    if (r.next() < 0.72) continue;
    const tarballs = r.int(1, 3);
    for (let t = 0; t < tarballs; t++) {
      const schema = r.pick(Object.keys(SCHEMAS) as (keyof typeof SCHEMAS)[]);
      const cols = SCHEMAS[schema].split(',');
      const lines: string[] = [SCHEMAS[schema]];
      for (let i = r.int(0, 25); i > 0; i--) {
        const created = `2024-03-${pad(day)} ${pad(r.int(0, 23))}:${pad(r.int(0, 59))}:${pad(r.int(0, 59))}.${r.int(0, 999999)}+00`;
        const v: Record<string, string> = {
          id: String(++id),
          created,
          modified: created,
          host_name: r.pick(hosts),
          host_remote_id: String(r.int(1, 9)),
          host_id: String(r.int(1, 9)),
          ansible_host_variable: r.next() < 0.3 ? r.pick(['real 1', 'real 2']) : '',
          ansible_connection_variable: 'ssh',
          changed: String(r.int(0, 2)),
          dark: String(r.int(0, 1)),
          failures: String(r.int(0, 1)),
          ok: String(r.next() < 0.2 ? 0 : r.int(0, 5)),
          processed: '1',
          skipped: String(r.int(0, 1)),
          failed: r.pick(['t', 'f']),
          ignored: '0',
          rescued: String(r.int(0, 1)),
          job_created: r.next() < 0.1 ? '' : `2024-03-${pad(day)} 00:0${r.int(0, 9)}:00+00`,
          job_remote_id: String(r.int(100, 104)),
          job_template_remote_id: '7',
          job_template_name: r.pick(templates),
          inventory_remote_id: '1',
          inventory_name: 'Inv',
          organization_remote_id: '1',
          organization_name: r.pick(orgs),
          project_remote_id: '1',
          project_name: 'P',
        };
        lines.push(cols.map((c) => q(v[c] ?? '')).join(','));
      }
      const eol = r.next() < 0.5 ? '\r\n' : '\n';
      const members: PackMember[] = [
        { name: './config.json', content: JSON.stringify({ install_uuid: r.pick(['uuid-1', 'uuid-2']) }) },
        { name: './job_host_summary.csv', content: lines.join(eol) + (r.next() < 0.5 ? eol : '') },
      ];
      if (r.next() < 0.5) {
        const ev: Record<string, string | number>[] = [];
        for (let i = r.int(0, 15); i > 0; i--) {
          ev.push({
            id: i,
            host_name: r.pick(hosts),
            task_action: r.pick(['ping', 'shell', '']),
            resolved_action: r.pick(['', 'ansible.builtin.ping', 'community.general.x']),
            resolved_role: r.pick(['', 'ns.coll.role']),
            role: r.pick(['', 'ns.role', 'plain']),
            duration: r.int(0, 12) / 4,
            job_remote_id: r.int(100, 104),
          });
        }
        members.push({ name: './main_jobevent.csv', content: schemaCsv('main_jobevent.csv', ev) });
      }
      if (r.next() < 0.4) {
        const mh = ['host_name,host_id,inventory_remote_id,inventory_name,organization_remote_id,organization_name,last_automation,ansible_host_variable,canonical_facts,facts'];
        for (let i = r.int(0, 8); i > 0; i--) {
          const cf = JSON.stringify({ ansible_product_serial: r.pick(['S1', 'S2', '']), ansible_machine_id: r.pick(['M1', 'NA']) });
          const facts = JSON.stringify({ ansible_architecture: r.pick(['x86_64', 'aarch64']), cpu: r.int(1, 4) });
          mh.push(
            [r.pick(hosts), i, 1, r.pick(['Inv A', 'Inv B']), 1, q(r.pick(orgs)), `2024-03-${pad(day)} 0${r.int(0, 9)}:00:00+00`, r.pick(['', 'real 1']), q(cf), q(facts)].join(','),
          );
        }
        members.push({ name: './main_host.csv', content: `${mh.join('\n')}\n` });
      }
      const name = `data/2024/03/${pad(day)}/uuid-2024-03-${pad(day)}-000000+0000-2024-03-${pad(day)}-235959+0000-${t}.tar.gz`;
      await packTarball(join(base, name), members);
    }
  }
  await packTarball(join(base, 'data/2024/03/15/zz-bad.tar.gz'), [{ name: '../evil.csv', content: 'x' }]);
}

async function rowsOf(df: Dataframe) {
  return (await df.toJson()).map((r) => JSON.stringify(r));
}

const MARCH = { since: new Date('2024-03-01T00:00:00Z'), until: new Date('2024-04-01T00:00:00Z') };

describe('periods', () => {
  it('aligns windows and names partitions', () => {
    expect(periodWindows(new Date('2024-03-05T10:00:00Z'), new Date('2024-03-12T00:00:00Z'), 'week').map((w) => w.date)).toEqual([
      '2024-03-04',
      '2024-03-11',
    ]);
    expect(periodWindows(new Date('2024-01-31T10:00:00Z'), new Date('2024-03-01T00:00:00Z'), 'month').map((w) => w.date)).toEqual([
      '2024-01',
      '2024-02',
    ]);
    expect(periodWindows(MARCH.since, MARCH.until, 'day')).toHaveLength(31);
    expect(rollupName('job_host_summary', 'month', '2024-03')).toBe(
      'rollups/job_host_summary/period=month/date=2024-03/part-0.parquet',
    );
  });
});

describe('rollup', () => {
  it('property: regrouping daily / weekly rollups equals grouping the raw month', async () => {
    for (const seed of [7, 2024]) {
      const base = join(dir, `seed-${seed}`);
      await generate(base, seed);
      const storage = new DirectoryStorage({ base });

      const rawJhs = new JobHostSummary(db);
      const rawEv = new MainJobevent(db);
      const rawMh = new MainHost(db);
      const raw = await loadTarballs([rawJhs, rawEv, rawMh], { storage, ...MARCH });
      expect(raw.failures.map((f) => f.file)).toEqual(['data/2024/03/15/zz-bad.tar.gz']);
      const expectedJhs = await rowsOf(rawJhs);
      const expectedEv = await rowsOf(rawEv);
      const expectedMh = await rowsOf(rawMh);
      expect(expectedMh.some((x) => x.includes('"serials":["S'))).toBe(true);
      expect(expectedJhs.length).toBeGreaterThan(0);

      for (const period of ['day', 'week', 'month'] as RollupPeriod[]) {
        const res = await rollup({ storage, ...MARCH, period, duckdb: { memoryLimit: '256MB', threads: 2, onDisk: false } });
        expect(res.failures.map((f) => f.file)).toEqual(['data/2024/03/15/zz-bad.tar.gz']);
        expect(res.tarballs.sort()).toEqual([...raw.tarballs].sort());
        const jhs = new JobHostSummary(db);
        const ev = new MainJobevent(db);
        const mh = new MainHost(db);
        const window = period === 'week' ? { since: new Date('2024-02-26Z'), until: new Date('2024-04-08Z') } : MARCH;
        const read = await addRollups(jhs, { storage, period, ...window });
        await addRollups(ev, { storage, period, ...window });
        await addRollups(mh, { storage, period, ...window });
        await mh.group();
        expect(read.length).toBe(res.parts.filter((p) => p.kind === 'job_host_summary').length);
        await jhs.group();
        await ev.group();
        expect(await rowsOf(jhs), `seed ${seed} period ${period}`).toEqual(expectedJhs);
        expect(await rowsOf(ev), `seed ${seed} period ${period} events`).toEqual(expectedEv);
        expect(await rowsOf(mh), `seed ${seed} period ${period} hosts`).toEqual(expectedMh);
      }
    }
    // 76 rollup windows: minutes on a busy 2-core host.
  }, 240_000);

  it('writes Hive-partitioned Parquet that DuckDB reads directly', async () => {
    const { base: fixtures } = metricsUtilityTarballs();
    const out = join(dir, 'hive');
    const source = new DirectoryStorage({ base: fixtures });
    const target = new DirectoryStorage({ base: out });
    // Read the (read-only) fixtures, write the rollups elsewhere.
    const storage: Store = {
      backend: 'directory',
      put: (n, s) => target.put(n, s),
      get: async (n) => ((await target.exists(n)) ? target.get(n) : source.get(n)),
      exists: async (n) => (await target.exists(n)) || source.exists(n),
      remove: (n) => target.remove(n),
      glob: async (p, o) => [...(await source.glob(p, o)), ...(await target.glob(p, o))],
      describe: () => target.describe(),
    };
    const res = await rollup({ storage, ...MARCH, period: 'month', kinds: ['job_host_summary'] });
    expect(res.failures).toEqual([]);
    expect(res.parts.map((p) => p.name)).toEqual(['rollups/job_host_summary/period=month/date=2024-03/part-0.parquet']);
    const daily = await rollup({ storage, since: new Date('2024-03-17Z'), until: new Date('2024-03-20Z'), period: 'day', kinds: ['job_host_summary'] });
    expect(daily.parts.map((p) => p.date)).toEqual(['2024-03-17', '2024-03-18', '2024-03-19']);

    const hive = await db.all<{ period: string; date: string; n: bigint; runs: bigint }>(
      `SELECT period, CAST(date AS VARCHAR) AS date, count(*) AS n, sum(host_runs) AS runs
       FROM read_parquet($1, hive_partitioning = true) GROUP BY ALL ORDER BY 1, 2`,
      [join(out, 'rollups/job_host_summary/*/*/*.parquet')],
    );
    // 2024-03-17 and 2024-03-19 hold header-only CSVs: their parts exist but have no rows.
    expect(daily.parts.map((p) => p.rows > 0)).toEqual([false, true, false]);
    expect(hive.map((h) => [h.period, h.date])).toEqual([
      ['day', '2024-03-18'],
      ['month', '2024-03'],
    ]);
    const raw = new JobHostSummary(db);
    await loadTarballs([raw], { storage: source, ...MARCH });
    const [sum] = await db.all<{ runs: bigint; n: bigint }>(`SELECT sum(host_runs) AS runs, count(*) AS n FROM ${raw.table}`);
    const month = hive.find((h) => h.period === 'month')!;
    expect(month.runs).toBe(sum!.runs);
    expect(month.n).toBe(sum!.n);
    expect(res.parts[0]!.rows).toBe(Number(sum!.n));

    // Only the partitions whose period starts in [since, until) are read back.
    const one = new JobHostSummary(db);
    expect(await addRollups(one, { storage, period: 'day', since: new Date('2024-03-18Z'), until: new Date('2024-03-19Z') })).toEqual([
      'rollups/job_host_summary/period=day/date=2024-03-18/part-0.parquet',
    ]);
    // A re-run replaces the partition instead of adding a second file.
    await rollup({ storage, since: new Date('2024-03-18Z'), until: new Date('2024-03-19Z'), period: 'day', kinds: ['job_host_summary'] });
    expect(await target.glob('rollups/job_host_summary/period=day/**')).toEqual(
      daily.parts.map((p) => p.name),
    );
  });
});
