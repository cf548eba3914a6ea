import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileLock, loadConfig, silentLogger } from '@tally/core';
import { DirectoryStorage } from '@tally/storage';
import { createTestDatabase, type TestDatabase } from '@tally/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyControllerSchema, seedController } from '@tally/demo';
import { invokeGather } from '../src/gather-command.js';
import { cli, shipEnv, tarballs, WINDOW } from './least-privilege-support.js';
import { logProgress } from '../src/progress.js';

// A security team's setup: the collector's role may SELECT the controller's tables and nothing else.
const role = `tally_ro_${randomBytes(4).toString('hex')}`;
let controller: TestDatabase;
let stateDb: TestDatabase;
let admin: pg.Client;
let dir: string;
let roUrl: string;
let stateUrl: string;

const as = (url: string, user: string) => {
  const u = new URL(url);
  u.username = user;
  u.password = '';
  return u.toString();
};

const run = (argv: string[], env: Record<string, string | undefined>) => cli(argv, env, dir);

/** Every object in the controller database outside the session-temporary schemas, as sorted names. */
async function objects(): Promise<string[]> {
  const { rows } = await admin.query<{ o: string }>(`
    SELECT 'rel ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text AS o FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
    UNION ALL
    SELECT 'fn ' || p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname NOT LIKE 'pg\\_temp\\_%'
    UNION ALL
    SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
    ORDER BY 1`);
  return rows.map((r) => r.o);
}


/**
 * The README's "Least privilege" GRANT blocks, in order (controller role, state in the controller database,
 * state database), with this test's role and database names: the test runs exactly what operators are told to.
 */
function readmeGrants(names: { controller: string; state: string }): string[][] {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### Least privilege'), readme.indexOf('### Ship to S3'));
  return [...section.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) =>
    m[1]!
      .replace(/\btally_state\b/g, `"${names.state}"`)
      .replace(/\btally\b/g, role)
      .replace(/\bawx\b/g, `"${names.controller}"`)
      .split(/;\s*$/m)
      .map((x) => x.trim())
      .filter(Boolean),
  );
}
let grants: string[][];

const envFor = (shipPath: string) => shipEnv(roUrl, shipPath);

beforeAll(async () => {
  controller = await createTestDatabase('cli_ro_ctl');
  stateDb = await createTestDatabase('cli_ro_state');
  const owner = await controller.client();
  await applyControllerSchema(owner);
  await seedController(owner, { days: 2, jobsPerDay: 4, hosts: 10, orgs: 1, seed: 5, end: new Date('2024-03-11T00:00:00Z'), hostsPerJob: 3 });
  grants = readmeGrants({ controller: controller.name, state: stateDb.name });
  expect(grants).toHaveLength(3);
  // The README's read-only controller role, and no more (as the README says, PUBLIC's CREATE on public goes too).
  await owner.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
  for (const sql of grants[0]!) await owner.query(sql);
  // The README's grants in the state database.
  const st = await stateDb.client();
  for (const sql of grants[2]!) await st.query(sql);
  admin = owner;
  roUrl = as(controller.url, role);
  stateUrl = as(stateDb.url, role);
  dir = mkdtempSync(join(tmpdir(), 'tally-ro-'));
});

afterAll(async () => {
  await controller?.drop();
  await stateDb?.drop();
  const a = new pg.Client({ connectionString: process.env.TALLY_TEST_PG_ADMIN_URL });
  await a.connect();
  await a.query(`DROP ROLE IF EXISTS ${role}`).finally(() => a.end());
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a SELECT-only role on the controller database', () => {
  it('gather --dry-run succeeds and creates nothing in the controller database', async () => {
    const before = await objects();
    const r = await run(['gather', '--dry-run', ...WINDOW], envFor(join(dir, 'dry-ship')));
    expect(r.code, r.stderr).toBe(0);
    const paths = r.stdout.split('\n').filter(Boolean);
    expect(paths).toHaveLength(2);
    expect(await objects()).toEqual(before);
    expect(existsSync(join(dir, 'dry-ship'))).toBe(false);
  });

  it('gather --dry-run runs the credential, host metric, version, catalog-size, feature-flag and task-execution collectors under these grants', async () => {
    // The README's grant for the metrics service's table, where the controller database holds it (the synthetic one does).
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const extra = /`(GRANT SELECT ON tasks_taskexecution TO tally);`/.exec(readme)?.[1];
    expect(extra).toBeDefined();
    await admin.query(extra!.replace(/\btally\b/g, role));
    const keys = ['main_hostmetric', 'credentials_service', 'controller_version_service', 'table_metadata', 'feature_flags_service', 'task_executions_service'];
    const r = await run(['gather', '--dry-run', ...WINDOW.slice(0, 4), '--collectors', keys.join(',')], envFor(join(dir, 'dry-optional')));
    expect(r.code, r.stderr).toBe(0);
    const logs = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; collector?: string });
    const finished = logs.filter((l) => l.msg === 'collector finished').map((l) => l.collector);
    expect(new Set(finished)).toEqual(new Set(['config', ...keys]));
  });

  it('gather --ship stops at once with one line naming the table, the operation and --state-db/--state-file', async () => {
    const before = await objects();
    const shipPath = join(dir, 'denied');
    const r = await run(['gather', '--ship', ...WINDOW], envFor(shipPath));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toBe(
      'tally: cannot create table tally_gather_state in the controller database (permission denied for schema public); ' +
        'give the role CREATE there or keep state elsewhere with --state-db or --state-file',
    );
    expect(tarballs(shipPath)).toEqual([]);
    expect(await objects()).toEqual(before);
  });

  it('gather --ship --state-db keeps watermarks in the state database only; status --state-db reports them', async () => {
    const before = await objects();
    const shipPath = join(dir, 'state-db');
    const r = await run(['gather', '--ship', '--state-db', stateUrl, ...WINDOW], envFor(shipPath));
    expect(r.code, r.stderr).toBe(0);
    expect(tarballs(shipPath)).toHaveLength(2);
    expect(await objects()).toEqual(before);
    const st = await stateDb.client();
    const { rows } = await st.query<{ key: string; watermark: Date }>('SELECT key, watermark FROM tally_gather_state WHERE watermark IS NOT NULL');
    expect(rows.map((x) => [x.key, x.watermark.toISOString()])).toEqual([['job_host_summary', '2024-03-11T00:00:00.000Z']]);

    // Incremental against the state database: nothing new up to the same instant.
    const again = await run(['gather', '--ship', '--state-db', stateUrl, '--until', '2024-03-11', '--collectors', 'job_host_summary'], envFor(shipPath));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('No analytics collected');

    // status needs no controller connection when state is elsewhere; the environment variable works as the option.
    const s = await run(['status', '--json'], { TALLY_STATE_DATABASE_URL: stateUrl });
    expect(s.code, s.stderr).toBe(0);
    const jhs = (JSON.parse(s.stdout) as { collectors: { collector: string; watermark: string; dataState: string }[] }).collectors.find(
      (c) => c.collector === 'job_host_summary',
    );
    expect(jhs).toMatchObject({ watermark: '2024-03-11T00:00:00.000Z', dataState: 'complete' });
    expect(await objects()).toEqual(before);
  });

  it('gather --ship --state-file keeps watermarks in the file only, removes its lock file; status --state-file reports them', async () => {
    const before = await objects();
    const shipPath = join(dir, 'state-file');
    const stateFile = join(dir, 'files', 'state.json');
    const r = await run(['gather', '--ship', '--state-file', stateFile, ...WINDOW], envFor(shipPath));
    expect(r.code, r.stderr).toBe(0);
    expect(tarballs(shipPath)).toHaveLength(2);
    expect(await objects()).toEqual(before);
    const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as { collectors: Record<string, { watermark?: string; lastSuccessAt?: string }> };
    expect(saved.collectors.job_host_summary?.watermark).toBe('2024-03-11T00:00:00.000Z');
    expect(readdirSync(join(dir, 'files'))).toEqual(['state.json']);

    // A relative path is taken from the command's working directory.
    const s = await run(['status', '--state-file', join('files', 'state.json')], {});
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/^job_host_summary\s+yes\s+complete\s+2024-03-11T00:00:00.000Z\s/m);
  });

  it('--state-db and --state-file together are a usage error', async () => {
    const r = await run(['gather', '--ship', '--state-db', stateUrl, '--state-file', join(dir, 'x.json')], envFor(join(dir, 'x')));
    expect(r.code).toBe(2);
    const e = await run(['status'], { TALLY_STATE_DATABASE_URL: stateUrl, TALLY_STATE_FILE: join(dir, 'x.json') });
    expect(e.code).toBe(2);
    expect(e.stderr).toContain('TALLY_STATE_DATABASE_URL and TALLY_STATE_FILE both choose where state is kept');
  });

  for (const kind of ['state-db', 'state-file'] as const) {
    it(`two gathers sharing a ${kind} exclude each other; the lock is there, not in the controller database`, async () => {
      const stateFile = join(dir, `concurrent-${kind}`, 'state.json');
      const choice = kind === 'state-db' ? ({ kind: 'db', url: stateUrl } as const) : ({ kind: 'file', path: stateFile } as const);
      const option = kind === 'state-db' ? ['--state-db', stateUrl] : ['--state-file', stateFile];
      const shipPath = join(dir, `concurrent-${kind}-ship`);
      const directory = new DirectoryStorage({ base: shipPath });
      // The first gather stops inside its upload, holding the lock, until the second has tried.
      let entered!: () => void;
      let release!: () => void;
      const inUpload = new Promise<void>((r) => (entered = r));
      const gate = new Promise<void>((r) => (release = r));
      const gated = Object.assign(Object.create(directory) as DirectoryStorage, {
        put: async (...args: Parameters<DirectoryStorage['put']>) => {
          entered();
          await gate;
          return directory.put(...args);
        },
      });
      const io = { stdout: new PassThrough(), stderr: new PassThrough(), env: {}, cwd: dir };
      const first = invokeGather({
        cfg: loadConfig({ env: {} }),
        dbUrl: roUrl,
        since: new Date('2024-03-10T00:00:00Z'),
        until: new Date('2024-03-11T00:00:00Z'),
        mode: 'ship',
        collectors: ['main_host_daily'],
        io,
        logger: silentLogger,
        progress: logProgress(silentLogger),
        storage: gated,
        state: choice,
      });
      try {
        await inUpload;
        const second = await run(['gather', '--ship', ...option, ...WINDOW], envFor(join(dir, `concurrent-${kind}-second`)));
        expect(second.code).toBe(1);
        const held = kind === 'state-db' ? 'advisory lock "tally_gather"' : `lock file ${stateFile}.tally_gather.lock`;
        expect(second.stderr.trim()).toBe(
          `tally: another gather is running on this cluster (${held} is held); only one gather runs at a time — try again when it has finished`,
        );
        // The controller database holds no tally lock: its gathers use their own state.
        const { rows } = await admin.query(`SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND d.datname = $1`, [controller.name]);
        expect(rows[0].n).toBe(0);
      } finally {
        release();
      }
      const outcome = await first;
      expect(outcome.failures).toEqual([]);
      expect(tarballs(shipPath)).toHaveLength(1);
      expect(outcome.watermarks.get('main_host_daily')?.toISOString()).toBe('2024-03-11T00:00:00.000Z');
      if (kind === 'state-file') expect(existsSync(`${stateFile}.tally_gather.lock`)).toBe(false);
    });
  }

  it('a lock file left by a process that no longer runs is taken over', async () => {
    const stateFile = join(dir, 'stale', 'state.json');
    const lockPath = `${stateFile}.tally_gather.lock`;
    const held = await fileLock(stateFile).acquire('tally_gather');
    expect(held).toBeDefined();
    expect(await fileLock(stateFile).acquire('tally_gather')).toBeUndefined();
    const mine = JSON.parse(readFileSync(lockPath, 'utf8')) as { pid: number };
    // A pid that cannot be running (above the kernel's pid_max), as a crashed gather leaves it.
    writeFileSync(lockPath, JSON.stringify({ ...mine, pid: 2 ** 22 + 1, token: 'dead' }));
    const r = await run(['gather', '--ship', '--state-file', stateFile, ...WINDOW], envFor(join(dir, 'stale-ship')));
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(lockPath)).toBe(false);
    await held!.release();
  });

  it('tally schedule --once keeps its run state beside --state-file and in --state-db; status reports it', async () => {
    const before = await objects();
    const schedule = join(dir, 'schedule.json');
    writeFileSync(schedule, JSON.stringify({ collectors: { main_host: { cron: '* * * * *' } } }));
    const stateFile = join(dir, 'sched', 'state.json');
    for (const option of [['--state-file', stateFile], ['--state-db', stateUrl]]) {
      const r = await run(['schedule', '--once', '--schedule', schedule, ...option], envFor(join(dir, 'sched-ship')));
      expect(r.code, r.stderr).toBe(0);
      const s = await run(['status', '--json', ...option], {});
      expect(s.code, s.stderr).toBe(0);
      const mh = (JSON.parse(s.stdout) as { collectors: { collector: string; runState: string | null; lastSuccess: string | null }[] }).collectors.find(
        (c) => c.collector === 'main_host',
      );
      expect(mh?.runState, option[0]).toBe('ready');
      expect(mh?.lastSuccess).not.toBeNull();
    }
    expect(JSON.parse(readFileSync(`${stateFile}.schedule.json`, 'utf8')).collectors.main_host.runState).toBe('READY');
    expect(await objects()).toEqual(before);
  });

  it('builds the Renewal Guidance report from controller_db', async () => {
    const before = await objects();
    // The report's ship path must exist (as metrics-utility's validate_ship_path).
    const shipPath = join(dir, 'renewal');
    mkdirSync(shipPath);
    const r = await run(['report', '--since', '2024-01-01', '--until', '2024-03-31'], {
      DATABASE_URL: roUrl,
      METRICS_UTILITY_SHIP_TARGET: 'controller_db',
      METRICS_UTILITY_SHIP_PATH: shipPath,
      METRICS_UTILITY_REPORT_TYPE: 'RENEWAL_GUIDANCE',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(shipPath, { recursive: true }).map(String).filter((f) => f.endsWith('.xlsx'))).toHaveLength(1);
    expect(await objects()).toEqual(before);
  });

  it('tally schedule with state in the controller database fails with one line; status reads without writing', async () => {
    const before = await objects();
    const schedule = join(dir, 'schedule-denied.json');
    writeFileSync(schedule, JSON.stringify({ collectors: { main_host: { cron: '* * * * *' } } }));
    const r = await run(['schedule', '--once', '--schedule', schedule], envFor(join(dir, 'sched-denied')));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toBe(
      'tally: cannot create table tally_schedule_state in the controller database (permission denied for schema public); ' +
        'give the role CREATE there or keep state elsewhere with --state-db or --state-file',
    );
    const s = await run(['status', '--json'], { DATABASE_URL: roUrl });
    expect(s.code, s.stderr).toBe(0);
    expect((JSON.parse(s.stdout) as { collectors: { dataState: string }[] }).collectors.every((c) => c.dataState === 'empty')).toBe(true);
    expect(await objects()).toEqual(before);
  });

  it('with the README\'s grant for the default mode, gather --ship keeps state in the controller database', async () => {
    for (const sql of grants[1]!) await admin.query(sql);
    const shipPath = join(dir, 'default-mode');
    const r = await run(['gather', '--ship', ...WINDOW], envFor(shipPath));
    expect(r.code, r.stderr).toBe(0);
    expect(tarballs(shipPath)).toHaveLength(2);
    const { rows } = await admin.query<{ key: string; owner: string }>(
      `SELECT s.key, t.tableowner AS owner FROM tally_gather_state s, pg_tables t WHERE t.tablename = 'tally_gather_state' AND s.watermark IS NOT NULL`,
    );
    expect(rows).toEqual([{ key: 'job_host_summary', owner: role }]);
    const s = await run(['status', '--json'], { DATABASE_URL: roUrl });
    expect(s.stdout).toContain('"watermark": "2024-03-11T00:00:00.000Z"');
  });
});
