import { readFileSync } from 'node:fs';
import {
  config,
  jobHostSummary,
  mainHost,
  mainJobEvent,
  mainJobEventService,
  unifiedJobs,
  type CollectorResult,
} from '@tally/collectors';
import { tempdir, type TempDir } from '@tally/core';
import { createTestDatabase, type TestDatabase } from '@tally/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyControllerSchema, truncateController } from '../src/schema.js';
import { type SeedOptions, type SeedSummary, seedController } from '../src/seed.js';

const OPTS: SeedOptions = {
  days: 3,
  jobsPerDay: 40,
  hosts: 300,
  orgs: 3,
  seed: 11,
  end: new Date('2024-03-11T00:00:00Z'),
  hostsPerJob: 8,
  eventsPerSummary: 2,
};

let tdb: TestDatabase;
let db: pg.Client;
let summary: SeedSummary;
let out: TempDir;

beforeAll(async () => {
  tdb = await createTestDatabase('seed');
  db = await tdb.client();
  await applyControllerSchema(db);
  await applyControllerSchema(db); // idempotent
  summary = await seedController(db, OPTS);
  out = await tempdir('seed-out');
});
afterAll(async () => {
  await out?.remove();
  await tdb?.drop();
});

const one = async <T = Record<string, unknown>>(sql: string) => (await db.query(sql)).rows[0] as T;
const n = async (sql: string) => Number((await one<{ n: string }>(sql)).n);

function rowsOf(r: CollectorResult): string[] {
  if (r.format !== 'csv') throw new Error('expected csv');
  return r.files.flatMap((f) => readFileSync(f, 'utf8').split('\n').slice(1, -1));
}

describe('seedController', () => {
  it('reports what it created', () => {
    expect(summary).toMatchObject({
      since: new Date('2024-03-08T00:00:00Z'),
      until: new Date('2024-03-11T00:00:00Z'),
      organizations: 3,
      inventories: 6,
      hosts: 300,
      jobs: 120,
      unifiedJobs: 126,
    });
    expect(summary.jobHostSummaries).toBeGreaterThan(120);
    expect(summary.jobEvents).toBe(2 * summary.jobHostSummaries + 120);
    expect(summary.installUuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('produces referentially consistent rows inside the window', async () => {
    expect(await n(`SELECT count(*) AS n FROM main_jobhostsummary s LEFT JOIN main_job j ON j.unifiedjob_ptr_id = s.job_id WHERE j.unifiedjob_ptr_id IS NULL`)).toBe(0);
    // A summary's host belongs to its job's inventory and carries the host's name.
    expect(await n(`SELECT count(*) AS n FROM main_jobhostsummary s JOIN main_job j ON j.unifiedjob_ptr_id = s.job_id
      JOIN main_host h ON h.id = s.host_id WHERE h.inventory_id <> j.inventory_id OR h.name <> s.host_name`)).toBe(0);
    expect(await n(`SELECT count(*) AS n FROM main_jobhostsummary WHERE host_id IS NULL`)).toBeLessThan(summary.jobHostSummaries / 10);
    expect(await n(`SELECT count(*) AS n FROM main_jobhostsummary WHERE modified < '2024-03-08Z' OR modified >= '2024-03-11Z'`)).toBe(0);
    expect(await n(`SELECT count(*) AS n FROM main_unifiedjob WHERE finished >= '2024-03-11Z' OR created < '2024-03-08Z' OR finished < started`)).toBe(0);
    expect(await n(`SELECT count(*) AS n FROM main_jobevent e JOIN main_unifiedjob u ON u.id = e.job_id WHERE e.job_created <> u.created`)).toBe(0);
    // No two hosts in one job.
    expect(await n(`SELECT count(*) AS n FROM (SELECT job_id, host_name FROM main_jobhostsummary GROUP BY 1, 2 HAVING count(*) > 1) d`)).toBe(0);
    expect(await n(`SELECT count(*) AS n FROM main_hostmetric`)).toBe(await n(`SELECT count(DISTINCT host_name) AS n FROM main_jobhostsummary`));
    expect(await n(`SELECT count(*) AS n FROM main_hostmetric WHERE first_automation > last_automation OR automated_counter < 1`)).toBe(0);
    expect(await n(`SELECT count(*) AS n FROM main_host WHERE last_job_id IS NOT NULL`)).toBeGreaterThan(0);
    const setting = await one<{ value: string }>(`SELECT value FROM conf_setting WHERE key = 'INSTALL_UUID'`);
    expect(JSON.parse(setting.value)).toBe(summary.installUuid);
  });

  it('mixes JSON, YAML and empty host variables, facts, and modules from several collections', async () => {
    const kinds = await db.query<{ kind: string; n: string }>(`SELECT CASE
        WHEN variables LIKE '{"%' THEN 'json' WHEN variables LIKE 'ansible_host:%' THEN 'yaml-colon'
        WHEN variables LIKE 'ansible_host=%' THEN 'yaml-equals' ELSE 'other' END AS kind, count(*) AS n
      FROM main_host GROUP BY 1`);
    const byKind = Object.fromEntries(kinds.rows.map((r) => [r.kind, Number(r.n)]));
    for (const k of ['json', 'yaml-colon', 'yaml-equals', 'other']) expect(byKind[k]).toBeGreaterThan(0);
    expect(await n(`SELECT count(*) AS n FROM main_host WHERE ansible_facts ? 'ansible_machine_id'`)).toBeGreaterThan(100);
    const actions = await n(`SELECT count(DISTINCT (replace(event_data, '\\u', '\\u005cu')::jsonb->>'resolved_action')) AS n
      FROM main_jobevent WHERE event LIKE 'runner%'`);
    expect(actions).toBeGreaterThan(5);
    // Some events carry a \u0000 escape, which a plain jsonb cast rejects (the collectors must cope).
    expect(await n(`SELECT count(*) AS n FROM main_jobevent WHERE strpos(event_data, '\\u0000') > 0`)).toBeGreaterThan(0);
    expect(await n(`SELECT count(DISTINCT event) AS n FROM main_jobevent`)).toBeGreaterThan(3);
  });

  it('is deterministic for a seed and end', async () => {
    const digest = `SELECT md5(string_agg(concat_ws('|', id, created, modified, host_name, host_id, job_id, ok, changed, failed), ',' ORDER BY id)) AS d FROM main_jobhostsummary`;
    const hosts = `SELECT md5(string_agg(concat_ws('|', id, name, variables, ansible_facts::text, enabled), ',' ORDER BY id)) AS d FROM main_host`;
    const before = [await one(digest), await one(hosts)];
    await truncateController(db);
    const again = await seedController(db, OPTS);
    expect(again).toEqual(summary);
    expect([await one(digest), await one(hosts)]).toEqual(before);
  });

  it('is read by the collectors', async () => {
    const window = { db, since: summary.since, until: summary.until };
    const dir = async () => (await tempdir('seed-c', out.path)).path;
    const jhs = rowsOf(await jobHostSummary({ ...window, outputDir: await dir() }).gather());
    expect(jhs).toHaveLength(summary.jobHostSummaries);
    const events = rowsOf(await mainJobEvent({ ...window, outputDir: await dir() }).gather());
    expect(events.length).toBeGreaterThan(summary.jobHostSummaries);
    const service = rowsOf(await mainJobEventService({ ...window, outputDir: await dir(), maxFileSize: 64 * 1024 }).gather());
    // The seeder's events of kinds main_jobevent_service does not keep: runner_on_skipped and playbook_on_stats.
    const kept = await n(`SELECT count(*) AS n FROM main_jobevent WHERE event NOT IN ('runner_on_skipped', 'playbook_on_stats')`);
    expect(kept).toBeLessThan(summary.jobEvents);
    expect(service).toHaveLength(kept);
    const jobs = rowsOf(await unifiedJobs({ ...window, outputDir: await dir() }).gather());
    expect(jobs).toHaveLength(await n(`SELECT count(*) AS n FROM main_unifiedjob WHERE finished >= '2024-03-08Z' AND finished < '2024-03-11Z'`));
    expect(jobs.length).toBeGreaterThan(summary.jobs);
    // Jobs carry their project's scm_type; project updates have no main_job row, so none.
    expect(jobs.filter((r) => r.endsWith(',git')).length).toBe(summary.jobs);
    const hosts = rowsOf(await mainHost({ db, outputDir: await dir() }).gather());
    expect(hosts).toHaveLength(await n(`SELECT count(*) AS n FROM main_host WHERE enabled`));
    const cfg = await config({ db }).gather();
    expect(cfg.format === 'json' && cfg.data).toMatchObject({ install_uuid: summary.installUuid, controller_version: '4.6.2' });
  });

  it('rejects nonsense options', async () => {
    await expect(seedController(db, { ...OPTS, days: 0 })).rejects.toThrow(/days/);
    await expect(seedController(db, { ...OPTS, hosts: 1.5 })).rejects.toThrow(/hosts/);
  });
});
