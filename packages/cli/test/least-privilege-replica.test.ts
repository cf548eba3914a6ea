import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, startStandby, startThrowawayPostgres, type TestDatabase, type ThrowawayServer } from '@tally/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyControllerSchema, seedController } from '@tally/demo';
import { cli, shipEnv, tarballs, WINDOW } from './least-privilege-support.js';

// A read-only replica of the controller database: a hot standby made with pg_basebackup -R from a throwaway primary.
let primary: ThrowawayServer | undefined;
let standby: ThrowawayServer | undefined;
let stateDb: TestDatabase;
let replicaUrl: string;
let dir: string;

const run = (argv: string[], env: Record<string, string | undefined>) => cli(argv, env, dir);

const envFor = (shipPath: string) => shipEnv(replicaUrl, shipPath);

beforeAll(async () => {
  primary = await startThrowawayPostgres();
  const db = new pg.Client({ connectionString: primary.url });
  await db.connect();
  try {
    await applyControllerSchema(db);
    await seedController(db, { days: 2, jobsPerDay: 4, hosts: 10, orgs: 1, seed: 9, end: new Date('2024-03-11T00:00:00Z'), hostsPerJob: 3 });
  } finally {
    await db.end();
  }
  standby = await startStandby(primary);
  replicaUrl = standby.url;
  stateDb = await createTestDatabase('cli_replica_state');
  dir = mkdtempSync(join(tmpdir(), 'tally-replica-'));
}, 120_000);

afterAll(async () => {
  await standby?.stop();
  await primary?.stop();
  await stateDb?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('gather from a hot-standby replica', () => {
  it('is a read-only standby', async () => {
    const c = new pg.Client({ connectionString: replicaUrl });
    await c.connect();
    const { rows } = await c.query<{ r: boolean; n: number }>('SELECT pg_is_in_recovery() AS r, (SELECT count(*)::int FROM main_jobhostsummary) AS n');
    await c.end();
    expect(rows[0]).toMatchObject({ r: true });
    expect(rows[0]!.n).toBeGreaterThan(0);
  });

  it('gather --dry-run succeeds', async () => {
    const r = await run(['gather', '--dry-run', ...WINDOW], envFor(join(dir, 'dry')));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(2);
  });

  it('gather --ship with state in the replica fails with one line pointing at --state-db/--state-file', async () => {
    const r = await run(['gather', '--ship', ...WINDOW], envFor(join(dir, 'denied')));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toBe(
      'tally: cannot create table tally_gather_state in the controller database (cannot execute CREATE TABLE in a read-only transaction); ' +
        'keep state elsewhere with --state-db or --state-file',
    );
    expect(tarballs(join(dir, 'denied'))).toEqual([]);
  });

  it('gather --ship --state-file and --state-db succeed; status reports their watermarks', async () => {
    const stateFile = join(dir, 'state.json');
    const byFile = await run(['gather', '--ship', '--state-file', stateFile, ...WINDOW], envFor(join(dir, 'file-ship')));
    expect(byFile.code, byFile.stderr).toBe(0);
    expect(tarballs(join(dir, 'file-ship'))).toHaveLength(2);
    expect(JSON.parse(readFileSync(stateFile, 'utf8')).collectors.job_host_summary.watermark).toBe('2024-03-11T00:00:00.000Z');

    const byDb = await run(['gather', '--ship', '--state-db', stateDb.url, ...WINDOW], envFor(join(dir, 'db-ship')));
    expect(byDb.code, byDb.stderr).toBe(0);
    expect(tarballs(join(dir, 'db-ship'))).toHaveLength(2);

    for (const option of [['--state-file', stateFile], ['--state-db', stateDb.url]]) {
      const s = await run(['status', '--json', ...option], {});
      expect(s.code, s.stderr).toBe(0);
      const jhs = (JSON.parse(s.stdout) as { collectors: { collector: string; watermark: string }[] }).collectors.find((c) => c.collector === 'job_host_summary');
      expect(jhs?.watermark, option[0]).toBe('2024-03-11T00:00:00.000Z');
    }
  });

  it('tally schedule keeps its state beside --state-file; without it, one line says the server is read-only', async () => {
    const schedule = join(dir, 'schedule.json');
    writeFileSync(schedule, JSON.stringify({ collectors: { main_host: { cron: '* * * * *' } } }));
    const denied = await run(['schedule', '--once', '--schedule', schedule], envFor(join(dir, 'sched-denied')));
    expect(denied.code).toBe(1);
    expect(denied.stderr.trim().split('\n').at(-1)).toBe(
      'tally: cannot create table tally_schedule_state in the controller database (cannot execute CREATE TABLE in a read-only transaction); ' +
        'keep state elsewhere with --state-db or --state-file',
    );
    const stateFile = join(dir, 'sched', 'state.json');
    const r = await run(['schedule', '--once', '--schedule', schedule, '--state-file', stateFile], envFor(join(dir, 'sched-ship')));
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(`${stateFile}.schedule.json`, 'utf8')).collectors.main_host).toMatchObject({ runState: 'READY', dataState: 'COMPLETE' });
  });

  it('builds the Renewal Guidance report from the replica', async () => {
    // The report's ship path must exist (as metrics-utility's validate_ship_path).
    const shipPath = join(dir, 'renewal');
    mkdirSync(shipPath);
    const r = await run(['report', '--since', '2024-01-01', '--until', '2024-03-31'], {
      DATABASE_URL: replicaUrl,
      METRICS_UTILITY_SHIP_TARGET: 'controller_db',
      METRICS_UTILITY_SHIP_PATH: shipPath,
      METRICS_UTILITY_REPORT_TYPE: 'RENEWAL_GUIDANCE',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(shipPath, { recursive: true }).map(String).filter((f) => f.endsWith('.xlsx'))).toHaveLength(1);
  });
});
