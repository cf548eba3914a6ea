import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { csvHasRows, JobHostSummary, loadTarballs, MainHost, openDuckDb } from '@tally/dataframes';
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
