import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '@tally/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyControllerSchema, seedController } from '@tally/demo';
import { plainLines, startTally, tally } from './support/run-tally.ts';

// The whole pipeline as an operator runs it: seed a controller, gather --ship to a
// directory, roll up, build a report, then break a collector and read `status --json`.
let tdb: TestDatabase;
let db: pg.Client;
let shipPath: string;
let env: Record<string, string>;

const files = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)) : [];

beforeAll(async () => {
  tdb = await createTestDatabase('cli_e2e');
  db = await tdb.client();
  await applyControllerSchema(db);
  await seedController(db, { days: 4, jobsPerDay: 6, hosts: 30, orgs: 2, seed: 7, end: new Date('2024-03-11T00:00:00Z'), hostsPerJob: 5 });
  shipPath = mkdtempSync(join(tmpdir(), 'tally-e2e-'));
  env = { DATABASE_URL: tdb.url, METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: shipPath };
});

afterAll(async () => {
  await tdb?.drop();
  if (shipPath) rmSync(shipPath, { recursive: true, force: true });
});

describe('tally end to end', () => {
  it('gathers and ships daily tarballs with the expected members', async () => {
    const r = await tally(['gather', '--ship', '--since', '2024-03-07', '--until', '2024-03-11'], env);
    expect(r.stderr).not.toMatch(/"level":"error"/);
    expect(r.code).toBe(0);
    const tarballs = files(join(shipPath, 'data')).filter((f) => f.endsWith('.tar.gz'));
    // Four days, job_host_summary and main_jobevent each in their own tarballs.
    expect(tarballs).toHaveLength(8);
    for (const day of ['07', '08', '09', '10']) expect(tarballs.some((t) => t.includes(`/data/2024/03/${day}/`))).toBe(true);
    const jhs = tarballs.find((t) => t.includes('/03/08/') && execFileSync('tar', ['-tzf', t], { encoding: 'utf8' }).includes('job_host_summary.csv'));
    expect(jhs).toBeDefined();
    const members = execFileSync('tar', ['-tzf', jhs!], { encoding: 'utf8' }).split('\n').filter(Boolean).map((m) => m.replace(/^\.\//, ''));
    expect(members).toEqual(expect.arrayContaining(['config.json', 'manifest.json', 'data_collection_status.csv', 'job_host_summary.csv']));
    // The structured log names every shipped tarball.
    expect(r.stderr.split('\n').filter((l) => l.includes('"msg":"tarball shipped"'))).toHaveLength(8);

    // Incremental: the watermarks reach 2024-03-11, so another run up to then has nothing to do (metrics-utility: exit 1).
    const again = await tally(['gather', '--ship', '--until', '2024-03-11', '--collectors', 'job_host_summary'], env);
    expect(again.code).toBe(1);
    expect(plainLines(again.stderr)).toEqual(['tally: No analytics collected: every selected collector is already gathered up to 2024-03-11T00:00:00.000Z']);
    expect(files(join(shipPath, 'data')).filter((f) => f.endsWith('.tar.gz'))).toHaveLength(8);
  });

  it('rolls the shipped tarballs up into Parquet', async () => {
    const r = await tally(['rollup', '--since', '2024-03-07', '--until', '2024-03-11', '--period', 'day'], env);
    expect(r.code, r.stderr).toBe(0);
    const parts = r.stdout.split('\n').filter(Boolean);
    expect(parts.length).toBeGreaterThan(0);
    for (const p of parts) {
      expect(p).toMatch(/^rollups\/.+\.parquet$/);
      expect(existsSync(join(shipPath, p))).toBe(true);
    }
    expect(parts.some((p) => p.includes('job_host_summary') && p.includes('date=2024-03-08'))).toBe(true);
  });

  it('builds a CCSPv2 workbook for the range', async () => {
    const r = await tally(['report', '--since', '2024-03-07', '--until', '2024-03-10'], {
      ...env,
      METRICS_UTILITY_REPORT_TYPE: 'CCSPv2',
      METRICS_UTILITY_PRICE_PER_NODE: '2.5',
    });
    expect(r.code, r.stderr).toBe(0);
    const xlsx = files(join(shipPath, 'reports')).filter((f) => f.endsWith('.xlsx'));
    expect(xlsx).toHaveLength(1);
    expect(xlsx[0]).toMatch(/reports\/2024\/03\/CCSPv2-2024-03-07--2024-03-10\.xlsx$/);
    // An xlsx is a zip: it starts with PK.
    expect(execFileSync('head', ['-c', '2', xlsx[0]!], { encoding: 'latin1' })).toBe('PK');
  });

  it('gives exit code 2 and one clear line for usage and configuration errors', async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      // More cases run in-process in packages/cli/test/main.test.ts; these check the real process.
      [['gather', '--ship', '--dry-run'], env, /cannot be used with option '--dry-run'/],
      [['gather', '--ship'], { ...env, METRICS_UTILITY_SHIP_TARGET: 'ftp' }, /METRICS_UTILITY_SHIP_TARGET="ftp" is invalid/],
      [['gather', '--ship'], { METRICS_UTILITY_SHIP_TARGET: 'directory' }, /needs a database/],
    ];
    for (const [args, e, message] of cases) {
      const r = await tally(args, e);
      const lines = plainLines(r.stderr);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(lines[0], args.join(' ')).toMatch(/^tally: /);
      expect(lines[0], args.join(' ')).toMatch(message);
    }
  });

  it('status --json reflects a collector that failed (its table was dropped)', async () => {
    await db.query('DROP TABLE main_jobevent');
    const r = await tally(['gather', '--ship', '--since', '2024-03-10', '--until', '2024-03-11'], env);
    expect(r.code).toBe(1);
    expect(plainLines(r.stderr)).toEqual([expect.stringMatching(/^tally: gather: 1 failure\(s\); first: main_jobevent: .*main_jobevent/)]);

    const s = await tally(['status', '--json'], env);
    expect(s.code, s.stderr).toBe(0);
    const status = JSON.parse(s.stdout) as { collectors: Record<string, unknown>[] };
    const byKey = new Map(status.collectors.map((c) => [c.collector, c]));
    expect(byKey.get('main_jobevent')).toMatchObject({
      enabled: true,
      consecutiveFailures: 1,
      dataState: 'partial',
      watermark: '2024-03-11T00:00:00.000Z',
      lastError: expect.stringMatching(/main_jobevent/),
    });
    expect(byKey.get('job_host_summary')).toMatchObject({ consecutiveFailures: 0, dataState: 'complete', lastError: null, watermark: '2024-03-11T00:00:00.000Z' });

    const human = await tally(['status'], env);
    expect(human.stdout).toMatch(/main_jobevent\s+yes\s+partial/);
  });

  it('schedule --once runs due collectors, blocks dependents of a failing one, and records it', async () => {
    const file = join(shipPath, 'schedule.json');
    writeFileSync(
      file,
      JSON.stringify({
        collectors: {
          main_jobevent: { cron: '* * * * *' },
          job_host_summary: { cron: '* * * * *', dependsOn: ['main_jobevent'] },
        },
      }),
    );
    const r = await tally(['schedule', '--once', '--schedule', file], { ...env, METRICS_UTILITY_MAX_GATHER_PERIOD_DAYS: '2' });
    expect(r.code).toBe(1);
    expect(plainLines(r.stderr)).toEqual(['tally: schedule: 1 collector run(s) failed: main_jobevent (see tally status)']);
    const s = JSON.parse((await tally(['status', '--json'], env)).stdout) as { collectors: Record<string, unknown>[] };
    const byKey = new Map(s.collectors.map((c) => [c.collector, c]));
    expect(byKey.get('main_jobevent')).toMatchObject({ runState: 'ready', consecutiveFailures: 2 });
    expect(byKey.get('job_host_summary')).toMatchObject({ runState: 'blocked', lastError: expect.stringMatching(/dependencies not complete/) });
  });

  it('schedule runs until SIGTERM, then exits 0 and frees the cluster lock for the next runner', async () => {
    const file = join(shipPath, 'schedule-hourly.json');
    writeFileSync(file, JSON.stringify({ collectors: { job_host_summary: { cron: '@hourly' } } }));
    // Start from a clean schedule: the previous test's run would make the collector not due this hour.
    await db.query('DROP TABLE IF EXISTS tally_schedule_state');
    const runner = startTally(['schedule', '--schedule', file], { ...env, METRICS_UTILITY_MAX_GATHER_PERIOD_DAYS: '1' });
    try {
      // The first tick runs at once (a collector that never ran is due).
      for (let i = 0; i < 600 && !runner.stderr().includes('"msg":"run finished"'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(runner.stderr()).toContain('"msg":"run finished"');
      const busy = await tally(['schedule', '--once', '--schedule', file], env);
      expect(busy.code).toBe(0);
      expect(busy.stderr).toContain('another runner holds the schedule lock; nothing to do');
      runner.child.kill('SIGTERM');
      expect(await runner.done).toEqual({ code: 0, signal: null });
    } finally {
      runner.child.kill('SIGKILL');
    }
    const next = await tally(['schedule', '--once', '--schedule', file], env);
    expect(next.code).toBe(0);
    expect(next.stderr).not.toContain('another runner holds');
  });
});

