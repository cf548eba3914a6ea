import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '@tally/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyControllerSchema, seedController } from '@tally/demo';
import { runCli } from './run-cli.js';

let tdb: TestDatabase;
let db: pg.Client;
let dir: string;

const cli = (argv: string[], env: Record<string, string | undefined> = {}) => runCli(argv, env, dir);

beforeAll(async () => {
  tdb = await createTestDatabase('cli_gather');
  db = await tdb.client();
  await applyControllerSchema(db);
  await seedController(db, { days: 2, jobsPerDay: 4, hosts: 10, orgs: 1, seed: 3, end: new Date('2024-03-11T00:00:00Z'), hostsPerJob: 3 });
  dir = mkdtempSync(join(tmpdir(), 'tally-gather-cmd-'));
});
afterAll(async () => {
  await tdb?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('tally gather', () => {
  it('--dry-run builds tarballs locally, prints their paths, ships and records nothing', async () => {
    const shipPath = join(dir, 'ship');
    const env = { DATABASE_URL: tdb.url, METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: shipPath };
    const r = await cli(['gather', '--dry-run', '--since', '2024-03-09', '--until', '2024-03-11', '--collectors', 'job_host_summary'], env);
    expect(r.code, r.stderr).toBe(0);
    const paths = r.stdout.split('\n').filter(Boolean);
    expect(paths).toHaveLength(2);
    for (const p of paths) {
      expect(p).toMatch(/data\/2024\/03\/(09|10)\/.+\.tar\.gz$/);
      expect(existsSync(p)).toBe(true);
    }
    expect(existsSync(shipPath)).toBe(false);
    // Not even the state table: a dry run writes nothing.
    const { rows } = await db.query("SELECT to_regclass('tally_gather_state')::text AS t");
    expect(rows[0].t).toBeNull();
    // Quiet JSON logs on a non-terminal; one line per finished collector slice.
    const logs = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; collector?: string });
    expect(logs.filter((l) => l.msg === 'collector finished' && l.collector === 'job_host_summary')).toHaveLength(2);
    rmSync(join(paths[0]!, '..', '..', '..', '..', '..'), { recursive: true, force: true });
  });

  it('--ship with --collectors gathers only that subset (an optional collector is selected by naming it)', async () => {
    const shipPath = join(dir, 'ship2');
    const env = { DATABASE_URL: tdb.url, METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: shipPath };
    const r = await cli(['gather', '--ship', '--since', '2024-03-10', '--until', '2024-03-11', '--collectors', 'main_host_daily'], env);
    expect(r.code, r.stderr).toBe(0);
    const tarballs = readdirSync(join(shipPath, 'data'), { recursive: true }).map(String).filter((f) => f.endsWith('.tar.gz'));
    expect(tarballs).toHaveLength(1);
    const { rows } = await db.query<{ key: string }>('SELECT key FROM tally_gather_state WHERE watermark IS NOT NULL ORDER BY key');
    expect(rows.map((x) => x.key)).toEqual(['main_host_daily']);
  });
});
