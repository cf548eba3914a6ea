import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addRollups, csvHasRows, JobHostSummary, loadTarballs, MainHost, openDuckDb, rollup, rollupName } from '@tally/dataframes';
import { DirectoryStorage } from '@tally/storage';
import { AUDIT_HEADER, JHS_HEADER, MAIN_HOST_HEADER, writeTarball } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tally-members-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('csvHasRows', () => {
  it('a header alone, blank lines or nothing: no rows; any non-blank line after the header: rows', async () => {
    const file = (name: string, text: string) => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    expect(await csvHasRows(file('a', ''))).toBe(false);
    expect(await csvHasRows(file('b', 'a,b'))).toBe(false);
    expect(await csvHasRows(file('c', 'a,b\n'))).toBe(false);
    expect(await csvHasRows(file('d', 'a,b\r\n\r\n  \n'))).toBe(false);
    expect(await csvHasRows(file('e', 'a,b\n1,2'))).toBe(true);
    expect(await csvHasRows(file('f', `${'x'.repeat(70_000)}\n\n,\n`))).toBe(true);
  });
});

describe('which CSV a tarball contributes (the newest reference)', () => {
  it('audit rows only from tarballs whose job_host_summary.csv is empty or absent; main_host_daily only without main_host rows', async () => {
    const ship = join(dir, 'ship');
    const jhsRow = '1,2024-07-01 10:00:00+00,x,direct1,,0,0,1,0,0,0,2024-07-01 09:59:00+00,7,t,O';
    const audit = (host: string) => `${AUDIT_HEADER}\n2024-07-01 11:00:00+00,${host},{},{},[],2,2024-07-01 10:59:00+00,8,t,O\n`;
    writeTarball(ship, '2024-07-01', { 'job_host_summary.csv': `${JHS_HEADER}\n${jhsRow}\n`, 'main_indirectmanagednodeaudit.csv': audit('dropped') });
    writeTarball(ship, '2024-07-02', { 'job_host_summary.csv': `${JHS_HEADER}\n`, 'main_indirectmanagednodeaudit.csv': audit('kept-empty-jhs') });
    writeTarball(ship, '2024-07-03', { 'main_indirectmanagednodeaudit.csv': audit('kept-no-jhs') });
    const host = (h: string) => `${MAIN_HOST_HEADER}\n${h},i,O,,,{},{}\n`;
    writeTarball(ship, '2024-07-04', { 'main_host.csv': host('snapshot'), 'main_host_daily.csv': host('daily-dropped') });
    writeTarball(ship, '2024-07-05', { 'main_host.csv': `${MAIN_HOST_HEADER}\n`, 'main_host_daily.csv': host('daily-kept') });
    const db = await openDuckDb();
    try {
      const jhs = new JobHostSummary(db);
      const mainHost = new MainHost(db);
      await loadTarballs([jhs, mainHost], { storage: new DirectoryStorage({ base: ship }), since: new Date('2024-07-01T00:00:00Z'), until: new Date('2024-07-06T00:00:00Z') });
      const rows = await jhs.rows();
      expect(rows.map((r) => [r.host_name, r.managed_node_type])).toEqual([
        ['direct1', 0],
        ['kept-empty-jhs', 1],
        ['kept-no-jhs', 1],
      ]);
      expect((await mainHost.rows()).map((r) => r.host_name)).toEqual(['daily-kept', 'snapshot']);
    } finally {
      await db.close();
    }
  });
});

describe('job-grain rollup parts leave derived lists out', () => {
  it('a day of single DIRECT rows has no list columns; read back (or across parts by name) it equals grouping its tarballs', async () => {
    const ship = join(dir, 'slim');
    const jhs = (host: string, job: number) => `1,2024-07-01 10:00:00+00,x,${host},,0,0,1,0,0,0,2024-07-01 09:59:00+00,${job},t,O`;
    const audit = `${AUDIT_HEADER}\n2024-07-02 11:00:00+00,indirect1,"{""serial"": ""S1""}","{""cpu"": 4}","[""ns.coll.mod""]",2,2024-07-02 10:59:00+00,8,t,O\n`;
    writeTarball(ship, '2024-07-01', { 'job_host_summary.csv': `${JHS_HEADER}\n${jhs('a', 1)}\n${jhs('b', 1)}\n${jhs('', 2)}\n` });
    writeTarball(ship, '2024-07-02', { 'main_indirectmanagednodeaudit.csv': audit });
    // Two rows of one index: grouped, so that day's part holds the lists as grouped.
    writeTarball(ship, '2024-07-03', { 'job_host_summary.csv': `${JHS_HEADER}\n${jhs('c', 3)}\n${jhs('c', 3)}\n` });
    const storage = new DirectoryStorage({ base: ship });
    const window = { since: new Date('2024-07-01T00:00:00Z'), until: new Date('2024-07-04T00:00:00Z') };
    const db = await openDuckDb();
    try {
      await rollup({ storage, ...window, period: 'day', kinds: ['job_host_summary'] });
      const part = (day: string) => join(ship, rollupName('job_host_summary', 'day', `2024-07-${day}`));
      const columns = async (day: string) => (await db.all<{ n: string }>('SELECT name AS n FROM parquet_schema($1)', [part(day)])).map((r) => r.n);
      const lists = ['managed_node_types_set', 'canonical_facts', 'facts', 'events', 'host_names_before_dedup'];
      expect(await columns('01')).toEqual(expect.arrayContaining(['host_runs', 'last_automation', 'managed_node_type']));
      for (const list of lists) expect(await columns('01')).not.toContain(list);
      for (const day of ['02', '03']) expect(await columns(day)).toEqual(expect.arrayContaining(lists));

      const raw = new JobHostSummary(db);
      await loadTarballs([raw], { storage, ...window });
      const fromRollups = new JobHostSummary(db);
      await addRollups(fromRollups, { storage, period: 'day', ...window });
      await fromRollups.group();
      expect(await fromRollups.toJson()).toEqual(await raw.toJson());
      expect((await raw.rows()).find((r) => r.host_name === 'a')).toMatchObject({ managed_node_types_set: ['DIRECT'], host_names_before_dedup: ['a'], events: [] });
      // A script reading the parts itself gets every column, the lists filled where a part left them out.
      const parts = ['01', '02', '03'].map(part);
      const byName = (rows: Record<string, unknown>[]) => rows.map((r) => JSON.stringify(r, (_, v) => (typeof v === "bigint" ? String(v) : v))).sort();
      const read = await db.all(`SELECT * FROM ${await fromRollups.parquetRelation(parts)} WHERE host_name IS DISTINCT FROM 'c'`);
      const expected = await db.all(`SELECT * FROM ${raw.table} WHERE host_name IS DISTINCT FROM 'c'`);
      expect(read.length).toBe(4);
      expect(byName(read)).toEqual(byName(expected));

      // A reader of every part by name sees the lists where a part has them (NULL elsewhere).
      const [all] = await db.all<{ n: bigint; lists: bigint }>(
        `SELECT count(*) AS n, count(events) AS lists FROM read_parquet($1, hive_partitioning = true, union_by_name = true)`,
        [join(ship, 'rollups/job_host_summary/*/*/*.parquet')],
      );
      expect([Number(all!.n), Number(all!.lists)]).toEqual([5, 2]);
    } finally {
      await db.close();
    }
  });
});
