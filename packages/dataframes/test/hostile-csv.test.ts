import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addRollups, type Dataframe, JobHostSummary, loadTarballs, openDuckDb, rollup, type TallyDuckDb } from '@tally/dataframes';
import { packTarball } from '@tally/testkit';
import { DirectoryStorage } from '@tally/storage';
import { csvLines, GOOD_JHS, HOSTILE_JHS, JHS_HEADER_12, jhsRow, VALID_JHS } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
let db: TallyDuckDb;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-hostile-csv-'));
  db = await openDuckDb({ memoryLimit: '256MB', threads: 2 });
});
afterAll(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

const DAY = 'data/2024/03/06';
const GOOD = `${DAY}/a-good.tar.gz`;
const OTHER = `${DAY}/b-other.tar.gz`;
const MARCH = { since: new Date('2024-03-01Z'), until: new Date('2024-04-01Z') };
let lakes = 0;

/** A ship directory with the good tarball and, when given, another one holding `csv`. */
async function lake(csv?: string): Promise<DirectoryStorage> {
  const base = join(dir, `lake-${++lakes}`);
  await packTarball(join(base, GOOD), [
    { name: 'job_host_summary.csv', content: GOOD_JHS },
    { name: 'config.json', content: JSON.stringify({ install_uuid: 'u-good' }) },
  ]);
  if (csv !== undefined) {
    await packTarball(join(base, OTHER), [
      { name: 'job_host_summary.csv', content: csv },
      { name: 'config.json', content: JSON.stringify({ install_uuid: 'u-other' }) },
    ]);
  }
  return new DirectoryStorage({ base });
}

const rowsOf = async (df: Dataframe) => (await df.toJson()).map((r) => JSON.stringify(r));

/** What a report reads (unreachable hosts counted) and what a month rollup writes, read back. */
async function outcome(storage: DirectoryStorage) {
  const jhs = new JobHostSummary(db, { reachableOnly: false });
  const loaded = await loadTarballs([jhs], { storage, ...MARCH });
  const rolled = await rollup({ storage, ...MARCH, period: 'month', kinds: ['job_host_summary'], duckdb: { memoryLimit: '256MB', threads: 2 } });
  const back = new JobHostSummary(db);
  await addRollups(back, { storage, period: 'month', ...MARCH });
  await back.group();
  return { loaded, rolled, rows: await rowsOf(jhs), rolledRows: await rowsOf(back) };
}

describe('hostile CSVs next to a good tarball', () => {
  let good: Awaited<ReturnType<typeof outcome>>;
  beforeAll(async () => {
    good = await outcome(await lake());
    expect(good.rows).toHaveLength(3);
    expect(good.rolledRows).toHaveLength(3);
  });

  for (const c of HOSTILE_JHS) {
    it(`${c.name}: the tarball is refused, named with member and line, and the good numbers stand`, async () => {
      const got = await outcome(await lake(c.csv));
      for (const failures of [got.loaded.failures, got.rolled.failures]) {
        expect(failures).toHaveLength(1);
        expect(failures[0]).toMatchObject({ file: OTHER, member: 'job_host_summary.csv', line: c.line });
        expect(failures[0]!.error).toMatch(new RegExp(`^job_host_summary\\.csv: line ${c.line}: `));
        expect(failures[0]!.error).toMatch(c.reason);
      }
      expect(got.loaded.tarballs).toEqual([GOOD]);
      expect(got.rolled.tarballs).toEqual([GOOD]);
      expect(got.rows).toEqual(good.rows);
      expect(got.rolledRows).toEqual(good.rolledRows);
    });
  }

  it('a count that is not whole in a row left out as unreachable still refuses the tarball; an empty count refuses nothing and counts as metrics-utility counts it', async () => {
    // "0,5" reads as the DOUBLE 0.5 (the decimal separator is ','), so only the whole-number test refuses it.
    const csv = csvLines(JHS_HEADER_12, jhsRow(1, 'b1'), jhsRow(2, 'b2', { dark: '1', ok: '0', rescued: '0', failures: '"0,5"' }));
    const got = await outcome(await lake(csv));
    for (const failures of [got.loaded.failures, got.rolled.failures]) {
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatchObject({ file: OTHER, member: 'job_host_summary.csv' });
      expect(failures[0]!.error).toMatch(/column failures is not an integer: 0\.5/);
    }
    expect(got.rows).toEqual(good.rows);
    expect(got.rolledRows).toEqual(good.rolledRows);
    const empty = await outcome(await lake(csvLines(JHS_HEADER_12, jhsRow(1, 'e1', { ok: '', skipped: '' }), jhsRow(2, 'e2', { dark: '' }))));
    const zero = await outcome(await lake(csvLines(JHS_HEADER_12, jhsRow(1, 'e1', { ok: '0', skipped: '0' }), jhsRow(2, 'e2', { dark: '0' }))));
    expect(empty.loaded.failures).toEqual([]);
    expect(empty.rolled.failures).toEqual([]);
    // [host, host_runs, task_runs] of the other tarball. An empty counter is pandas' NaN in the
    // reference, and makes the row's Python sum() NaN: its task runs then sum as 0 (the group sum
    // skips NaN), and under the reachable rule (the rollup's) NaN > 0 is false when the empty one
    // is among the five but `dark`: e1 is dropped there, e2 (2 + 1 = 3 > 0) kept with 0 task runs.
    const runs = (rows: string[]) =>
      rows.map((r) => JSON.parse(r)).filter((r) => r.install_uuid === 'u-other').map((r) => [r.host_name, r.host_runs, r.task_runs]);
    expect(runs(zero.rows)).toEqual([['e1', 1, 1], ['e2', 1, 3]]);
    expect(runs(zero.rolledRows)).toEqual([['e1', 1, 1], ['e2', 1, 3]]);
    expect(runs(empty.rows)).toEqual([['e1', 1, 0], ['e2', 1, 0]]);
    expect(runs(empty.rolledRows)).toEqual([['e2', 1, 0]]);
  });

  for (const c of VALID_JHS) {
    it(`${c.name} is valid: the tarball loads as its plain form does`, async () => {
      const got = await outcome(await lake(c.csv));
      const plain = await outcome(await lake(c.plain));
      expect(got.loaded.failures).toEqual([]);
      expect(got.rolled.failures).toEqual([]);
      expect(got.loaded.tarballs).toEqual([GOOD, OTHER]);
      expect(got.rows).toEqual(plain.rows);
      expect(got.rolledRows).toEqual(plain.rolledRows);
      if (c.plain) expect(got.rows.length).toBeGreaterThan(good.rows.length);
      else expect(got.rows).toEqual(good.rows);
    });
  }
});
