/**
 * Empty and negative job_host_summary counters, counted as metrics-utility counts them, under
 * both counting rules, read from the CSV (strict read and the loader's batch read) and from a
 * day rollup alike.
 *
 * The reference (dataframe_jobhost_summary_usage.py; 5c224bb for the reachable rule, the pre-0.5
 * version for the 0.4 rule) reads the CSV with pandas, where an empty counter is NaN, and sums each
 * row with Python's `sum()` over the six counters (`task_runs`) and over the five but `dark`
 * (`reachable_task_runs`): one NaN makes the row's sum NaN. The reachable rule keeps a row when
 * `reachable_task_runs > 0` (NaN > 0 is False). The grouping then takes `host_runs` = count of
 * host names and `task_runs` = pandas' group sum, which skips NaN (a group of NaN alone sums to 0).
 * `changed` and `processed` are never read.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addRollups, JobHostSummary, loadTarballs, openDuckDb, rollup, type TallyDuckDb } from '@tally/dataframes';
import { DirectoryStorage } from '@tally/storage';
import { packTarball, schemaCsv } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const COUNTERS = ['dark', 'failures', 'ok', 'skipped', 'ignored', 'rescued', 'changed', 'processed'] as const;
type Counters = Partial<Record<(typeof COUNTERS)[number], number | ''>>;

/** One host's rows (all in one job) and what each rule makes of them: [host_runs, task_runs], or null when no row is kept. */
interface Case {
  host: string;
  rows: Counters[];
  reachable: [number, number] | null;
  all: [number, number];
}

const REACHABLE_FIVE = ['failures', 'ok', 'skipped', 'ignored', 'rescued'] as const;

const CASES: Case[] = [
  // Sum of the five is NaN: dropped. 0.4: kept, its task runs NaN, which the group sum skips → 0.
  ...REACHABLE_FIVE.map((c): Case => ({ host: `${c}-empty`, rows: [{ [c]: '', [c === 'ok' ? 'failures' : 'ok']: 5 }], reachable: null, all: [1, 0] })),
  // The audit's row: ok empty, failures 1 → NaN, dropped (Tally read the empty ok as 0 and kept it with 1 task run).
  { host: 'audit-ok-empty', rows: [{ ok: '', failures: 1 }], reachable: null, all: [1, 0] },
  // The audit's other row: -1 is not > 0, dropped (Tally kept sums <> 0). 0.4: -1 task runs.
  { host: 'ok-negative', rows: [{ ok: -1 }], reachable: null, all: [1, -1] },
  // -1 + 2 = 1 > 0: kept, task runs 1 + dark 1 = 2, under both rules.
  { host: 'negative-kept', rows: [{ ok: -1, failures: 2, dark: 1 }], reachable: [1, 2], all: [1, 2] },
  // A negative dark is summed too: 1 > 0 kept, task runs 1 - 5 = -4.
  { host: 'dark-negative', rows: [{ dark: -5, ok: 1 }], reachable: [1, -4], all: [1, -4] },
  // dark empty: the five sum to 3 > 0, kept, but task runs (all six) NaN → 0; host_runs still counts it.
  { host: 'dark-empty', rows: [{ dark: '', ok: 3 }], reachable: [1, 0], all: [1, 0] },
  // dark empty, the five 0: 0 is not > 0, dropped. 0.4: NaN → 0.
  { host: 'dark-empty-unreached', rows: [{ dark: '' }], reachable: null, all: [1, 0] },
  { host: 'dark-only', rows: [{ dark: 2 }], reachable: null, all: [1, 2] },
  { host: 'all-zero', rows: [{}], reachable: null, all: [1, 0] },
  { host: 'all-empty', rows: [{ dark: '', failures: '', ok: '', skipped: '', ignored: '', rescued: '' }], reachable: null, all: [1, 0] },
  // changed and processed are not counters of either sum: 2 + 1 = 3.
  { host: 'changed-processed-empty', rows: [{ changed: '', processed: '', ok: 2, dark: 1 }], reachable: [1, 3], all: [1, 3] },
  // One group: 3 (kept) + NaN→0 (kept, dark empty) + dropped (ok empty): host_runs 2, task runs 3.
  // 0.4: all three rows, 3 + 0 + 0.
  { host: 'shared', rows: [{ ok: 2, dark: 1 }, { dark: '', ok: 4 }, { ok: '', failures: 1 }], reachable: [2, 3], all: [3, 3] },
];

const DAY = '2024-03-06';
const csvText = () => {
  let id = 0;
  return schemaCsv(
    'job_host_summary.csv',
    CASES.flatMap((c, job) =>
      c.rows.map((r) => ({
        id: ++id,
        created: `${DAY} 10:00:0${id % 10}+00`,
        modified: `${DAY} 10:00:00+00`,
        host_name: c.host,
        failed: 'f',
        job_created: `${DAY} 09:00:00+00`,
        job_remote_id: 100 + job,
        job_template_name: 'T',
        organization_name: 'O',
        ...Object.fromEntries(COUNTERS.map((k) => [k, 0])),
        ...r,
      })),
    ),
  );
};

/** What a rule makes of every case: `host → [host_runs, task_runs]`, dropped hosts left out. */
const expected = (reachableOnly: boolean) =>
  Object.fromEntries(CASES.flatMap((c) => (reachableOnly ? (c.reachable ? [[c.host, c.reachable]] : []) : [[c.host, c.all]])));

async function counted(jhs: JobHostSummary): Promise<Record<string, [number, number]>> {
  await jhs.group();
  return Object.fromEntries((await jhs.rows()).map((r) => [r.host_name as string, [r.host_runs as number, r.task_runs as number]]));
}

let dir: string;
let db: TallyDuckDb;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-jhs-counters-'));
  db = await openDuckDb({ memoryLimit: '256MB', threads: 2 });
  await writeFile(join(dir, 'jhs.csv'), csvText());
});
afterAll(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

describe('job_host_summary counters as the reference sums them', () => {
  for (const reachableOnly of [true, false]) {
    const rule = reachableOnly ? 'reachable hosts only (0.5+)' : 'unreachable hosts counted (0.4)';

    it(`${rule}: the strict CSV read`, async () => {
      const jhs = new JobHostSummary(db, { reachableOnly });
      await jhs.addCsv(join(dir, 'jhs.csv'), { installUuid: 'u1' });
      expect(await counted(jhs)).toEqual(expected(reachableOnly));
      await jhs.drop();
    });

    it(`${rule}: the loader's batch read of a tarball, and a day rollup of it, give the same rows`, async () => {
      const ship = join(dir, `ship-${reachableOnly}`);
      await packTarball(join(ship, `data/2024/03/06/u1-${DAY}-000000+0000-${DAY}-235959+0000-0.tar.gz`), [
        { name: 'config.json', content: JSON.stringify({ install_uuid: 'u1' }) },
        { name: 'job_host_summary.csv', content: csvText() },
      ]);
      const storage = new DirectoryStorage({ base: ship });
      const window = { since: new Date(`${DAY}T00:00:00Z`), until: new Date('2024-03-07T00:00:00Z') };
      const raw = new JobHostSummary(db, { reachableOnly });
      const loaded = await loadTarballs([raw], { storage, ...window });
      expect(loaded.failures).toEqual([]);
      expect(await counted(raw)).toEqual(expected(reachableOnly));
      await raw.drop();

      await rollup({ storage, ...window, period: 'day', reachableOnly });
      const rolled = new JobHostSummary(db, { reachableOnly });
      expect(await addRollups(rolled, { storage, period: 'day', ...window })).toHaveLength(1);
      expect(await counted(rolled)).toEqual(expected(reachableOnly));
      await rolled.drop();
    });
  }
});
