import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { anonymizedRollupOfDay } from '@tally/dataframes';
import { applyControllerSchema, seedController } from '@tally/demo';
import { DirectoryStorage } from '@tally/storage';
import { createTestDatabase, type TestDatabase } from '@tally/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

// The anonymized rollup of a day gathered by `tally gather` from the seeded controller database:
// the members and headers gather writes are the ones the rollup reads, and its numbers are the
// database's, counted here in SQL the way the reference's rollup code counts them.
let tdb: TestDatabase;
let db: pg.Client;
let dir: string;
const DAY = ['2024-03-10T00:00:00Z', '2024-03-11T00:00:00Z'] as const;
const FINISHED = `mu.finished >= '${DAY[0]}' AND mu.finished < '${DAY[1]}'`;

beforeAll(async () => {
  tdb = await createTestDatabase('cli_anonymized');
  db = await tdb.client();
  await applyControllerSchema(db);
  await seedController(db, { days: 2, jobsPerDay: 6, hosts: 10, orgs: 2, seed: 5, end: new Date('2024-03-11T00:00:00Z'), hostsPerJob: 3 });
  dir = mkdtempSync(join(tmpdir(), 'tally-anon-gather-'));
});
afterAll(async () => {
  await tdb?.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function gatheredPayload() {
  const shipPath = join(dir, 'ship');
  const r = await runCli(['gather', '--ship', '--since', '2024-03-10', '--until', '2024-03-11'], {
    DATABASE_URL: tdb.url,
    METRICS_UTILITY_SHIP_TARGET: 'directory',
    METRICS_UTILITY_SHIP_PATH: shipPath,
    METRICS_UTILITY_OPTIONAL_COLLECTORS:
      'unified_jobs,job_host_summary_service,credentials_service,execution_environments,table_metadata,controller_version_service,feature_flags_service',
    METRICS_UTILITY_DISABLE_JOB_HOST_SUMMARY_COLLECTOR: 'true',
  }, dir);
  expect(r.code, r.stderr).toBe(0);
  const { payload, failures } = await anonymizedRollupOfDay({ storage: new DirectoryStorage({ base: shipPath }), day: new Date(DAY[0]), knownCollections: [] });
  expect(failures).toEqual([]);
  return payload;
}

async function one<T>(sql: string): Promise<T> {
  return (await db.query(sql)).rows[0] as T;
}

describe('anonymizedRollup of a gathered day', () => {
  it('counts jobs, job host pairs, hosts and EEs as the database holds them', async () => {
    const p = await gatheredPayload();
    const jobs = await one<{ n: string; failed: string; orgs: string; forks: string | null; dur: number | null }>(`SELECT count(*) AS n,
        count(*) FILTER (WHERE mu.failed) AS failed, count(DISTINCT o.name) AS orgs, sum(mj.forks) AS forks,
        sum(extract(epoch FROM mu.finished - mu.started))::float8 AS dur
      FROM main_unifiedjob mu LEFT JOIN main_organization o ON o.id = mu.organization_id
      LEFT JOIN main_job mj ON mj.unifiedjob_ptr_id = mu.id WHERE ${FINISHED}`);
    expect(Number(jobs.n)).toBeGreaterThan(0);
    const s = p.statistics;
    expect(s.rollup_period_jobs_total).toBe(Number(jobs.n));
    expect(s.rollup_period_jobs_failed).toBe(Number(jobs.failed));
    expect(s.rollup_period_jobs_successful).toBe(Number(jobs.n) - Number(jobs.failed));
    expect(s.rollup_period_organizations_total).toBe(Number(jobs.orgs));
    expect(s.rollup_period_forks_total).toBe(Number(jobs.forks ?? 0));
    expect(s.rollup_period_jobs_duration_all_statuses_seconds).toBeCloseTo(jobs.dur ?? 0, 6);

    // Host outcome per job host row: unreachable (dark > 0), else failed (failures > 0), else successful.
    const hosts = await one<Record<string, string>>(`SELECT count(*) AS pairs, count(DISTINCT s.host_id) AS hosts, sum(s.ok) AS ok,
        sum(s.skipped) AS skipped, sum(s.ignored) AS ignored, sum(s.dark) AS dark, sum(s.failures) AS failures,
        count(*) FILTER (WHERE s.dark > 0) AS unreachable, count(*) FILTER (WHERE s.dark = 0 AND s.failures > 0) AS failed,
        count(*) FILTER (WHERE s.dark = 0 AND s.failures = 0) AS successful
      FROM main_jobhostsummary s JOIN main_unifiedjob mu ON mu.id = s.job_id WHERE ${FINISHED}`);
    expect(Number(hosts.pairs)).toBeGreaterThan(0);
    expect(Number(hosts.hosts)).toBeGreaterThan(1);
    expect(s.rollup_period_job_host_pairs_total).toBe(Number(hosts.pairs));
    expect(s.rollup_period_unique_hosts_total).toBe(Number(hosts.hosts));
    expect(s.rollup_period_successful_hosts_total).toBe(Number(hosts.successful));
    expect(s.rollup_period_failed_hosts_total).toBe(Number(hosts.failed));
    expect(s.rollup_period_unreachable_hosts_total).toBe(Number(hosts.unreachable));
    expect(s.rollup_period_task_ok_total).toBe(Number(hosts.ok));
    expect(s.rollup_period_task_failed_total).toBe(Number(hosts.failures));
    expect(s.rollup_period_task_unreachable_total).toBe(Number(hosts.dark));
    expect(s.rollup_period_tasks_total).toBe(['ok', 'skipped', 'ignored', 'dark', 'failures'].reduce((n, k) => n + Number(hosts[k]), 0));

    const ee = await one<{ n: string; managed: string }>(`SELECT count(*) AS n, count(*) FILTER (WHERE managed) AS managed FROM main_executionenvironment`);
    expect(Number(ee.n)).toBeGreaterThan(0);
    expect(s.rollup_period_EE_default_total).toBe(Number(ee.managed));
    expect(s.rollup_period_execution_environments_total).toBe(Number(ee.n));

    const { rows: versions } = await db.query<{ version: string }>(`SELECT DISTINCT version FROM main_instance WHERE enabled AND version <> '' ORDER BY 1`);
    expect(p.controller_versions).toEqual(versions.map((v) => v.version));
    expect(p.jobs_by_controller_version[0]?.controller_version).toBe(versions[0]?.version);
    expect(Object.keys(p.table_metadata).sort()).toEqual(
      ['main_jobevent', 'main_jobhostsummary', 'main_unifiedjob'].flatMap((t) =>
        ['estimated_row_count', 'indexes_size_bytes', 'table_size_bytes', 'total_size_bytes'].map((c) => `${t}_${c}`)),
    );
    const byType = await db.query<{ model: string; n: string }>(`SELECT dct.model, count(*) AS n FROM main_unifiedjob mu
      JOIN django_content_type dct ON dct.id = mu.polymorphic_ctype_id WHERE ${FINISHED} GROUP BY 1 ORDER BY 1`);
    expect(p.jobs_by_job_type.map((j) => [j.job_type, j.jobs_total])).toEqual(byType.rows.map((r) => [r.model, Number(r.n)]));
    // No collections.json names: every installed collection is dropped.
    expect(p.jobs_by_installed_collections_versions).toEqual([]);

    // `tally rollup --anonymized` writes the same payload, one file per day of the window.
    const shipPath = join(dir, 'ship');
    const known = join(dir, 'collections.json');
    writeFileSync(known, JSON.stringify({ 'ansible.posix': 'certified' }));
    const env = { METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: shipPath };
    const r = await runCli(['rollup', '--anonymized', '--collections', known, '--since', '2024-03-09', '--until', '2024-03-11'], env, dir);
    expect(r.code, r.stderr).toBe(0);
    const names = ['2024-03-09', '2024-03-10'].map((d) => `rollups/anonymized/period=day/date=${d}/payload.json`);
    expect(r.stdout.trim().split('\n')).toEqual(names);
    const written = JSON.parse(readFileSync(join(shipPath, names[1]!), 'utf8'));
    const { payload } = await anonymizedRollupOfDay({ storage: new DirectoryStorage({ base: shipPath }), day: new Date(DAY[0]), knownCollections: ['ansible.posix'] });
    expect(written).toEqual(JSON.parse(JSON.stringify(payload)));
    // Nothing gathered on March 9: the empty day's payload.
    expect(JSON.parse(readFileSync(join(shipPath, names[0]!), 'utf8')).statistics.rollup_period_jobs_total).toBe(0);
    const bad = await runCli(['rollup', '--anonymized', '--period', 'month', '--since', '2024-03-01'], env, dir);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--period must be day');
  });
});
