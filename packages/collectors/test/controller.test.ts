import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { type Collector, type CollectorParams, type CollectorResult, config, controllerCollectors, controllerVersionService, credentialsService, executionEnvironments, featureFlagsService, jobHostSummary, jobHostSummaryService, mainHost, mainHostDaily, mainHostMetric, mainIndirectManagedNodeAudit, mainJobEvent, mainJobEventService, tableMetadata, taskExecutionsService, unifiedJobs } from '@tally/collectors';
import { prepareJsonCheck } from '../src/host-variables.js';
import { CollectorError, type Logger, parseCsv, tempdir, type TempDir } from '@tally/core';
import { createTestDatabase, type TestDatabase } from '@tally/testkit';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { applyControllerSchema } from '@tally/demo';
import { readCsv } from './csv.js';
import { insertFixtureSite, SINCE, UNTIL } from './fixture-site.js';

let tdb: TestDatabase;
let db: pg.Client;
let out: TempDir;

beforeAll(async () => {
  tdb = await createTestDatabase('collectors');
  db = await tdb.client();
  await applyControllerSchema(db);
  await insertFixtureSite(db);
});
afterAll(async () => {
  await tdb?.drop();
});
beforeEach(async () => {
  out = await tempdir('collectors-out');
});
afterEach(async () => {
  await out.remove();
});

function csvFiles(r: CollectorResult): string[] {
  if (r.format !== 'csv') throw new Error(`expected a CSV result, got ${r.format}`);
  return r.files;
}

async function gatherCsv(c: Collector<CollectorParams>, extra: Partial<CollectorParams> = {}) {
  const r = await c({ db, since: SINCE, until: UNTIL, outputDir: out.path, ...extra }).gather();
  const files = csvFiles(r);
  expect(files.map((f) => basename(f))).toEqual([`${c.meta.key}.csv`]);
  return readCsv(files[0]!);
}

const N = null;

describe('job_host_summary', () => {
  const header = [
    'id', 'created', 'modified', 'host_name', 'host_remote_id', 'ansible_host_variable', 'ansible_connection_variable',
    'changed', 'dark', 'failures', 'ok', 'processed', 'skipped', 'failed', 'ignored', 'rescued', 'job_created',
    'job_remote_id', 'job_template_remote_id', 'job_template_name', 'inventory_remote_id', 'inventory_name',
    'organization_remote_id', 'organization_name', 'project_remote_id', 'project_name',
  ];
  const job10 = ['2024-03-01 10:00:00.123456+00', '10', '2', 'JT run', '1', 'Inv A', '1', 'Default', '1', 'Proj'];
  const expected = [
    ['100', '2024-03-01 00:00:00+00', '2024-03-01 00:00:00+00', 'h1', '1', '10.0.0.1', 'ssh', '1', '0', '0', '5', '1', '2', 'f', '0', '0', ...job10],
    ['101', '2024-03-01 12:00:00+00', '2024-03-01 12:00:00+00', 'h2', '2', '10.0.0.2', 'winrm', '0', '1', '0', '0', '1', '0', 't', '0', '0', ...job10],
    ['103', '2024-03-01 13:00:00.123456+00', '2024-03-01 13:00:00.123456+00', 'h4', '4', N, N, '0', '0', '0', '1', '1', '0', 'f', '0', '0', ...job10],
    ['104', '2024-03-01 14:00:00+00', '2024-03-01 14:00:00+00', 'gone', N, N, N, '0', '0', '0', '1', '1', '0', 'f', '0', '0', ...job10],
    ['105', '2024-03-01 15:00:00+00', '2024-03-01 15:00:00+00', 'h6', '6', N, N, '0', '0', '0', '1', '1', '0', 'f', '0', '0', ...job10],
  ];

  it('writes the 26 columns in order, one row per summary modified in [since, until), JSON and YAML variables', async () => {
    const { header: h, rows } = await gatherCsv(jobHostSummary);
    expect(h).toEqual(header);
    // 100 is exactly at `since` (kept); 102 exactly at `until` and 106 after it (dropped).
    expect(rows).toEqual(expected);
  });

  it('gives the same rows whichever way JSON variables are recognised', async () => {
    for (const jsonCheck of ['regex', 'temp-function'] as const) {
      await out.remove();
      out = await tempdir('collectors-out');
      const { rows } = await gatherCsv(jobHostSummary, { jsonCheck });
      expect(rows).toEqual(expected);
    }
  });

  it('leaves no function or table behind in the controller schema and restores the session settings', async () => {
    await db.query(`SET TimeZone = 'America/New_York'`);
    try {
      await gatherCsv(jobHostSummary);
      const { rows } = await db.query<{ tz: string; since: string }>(
        `SELECT current_setting('TimeZone') AS tz, current_setting('tally.since', true) AS since`,
      );
      expect(rows[0]).toEqual({ tz: 'America/New_York', since: '' });
    } finally {
      await db.query(`SET TimeZone = 'UTC'`);
    }
    const fns = await db.query(`SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace`);
    expect(fns.rows).toEqual([]);
  });

  it('runs in a read-only transaction (as on a standby), recognising flat JSON variables by regex', async () => {
    await db.query('BEGIN READ ONLY');
    try {
      expect(await prepareJsonCheck(db)).toBe('regex');
      const { rows } = await gatherCsv(jobHostSummary);
      expect(rows).toEqual(expected);
    } finally {
      await db.query('ROLLBACK');
    }
  });

  it('splits into header-led parts at a tiny maxFileSize', async () => {
    const r = await jobHostSummary({ db, since: SINCE, until: UNTIL, outputDir: out.path, maxFileSize: 300 }).gather();
    const files = csvFiles(r);
    expect(files.length).toBeGreaterThan(1);
    expect(files.map((f) => basename(f))).toEqual(files.map((_, i) => `job_host_summary_split${i}.csv`));
    const rows = files.flatMap((f) => {
      const { header: h, rows: rs } = readCsv(f);
      expect(h).toEqual(header);
      return rs;
    });
    expect(rows).toEqual(expected);
  });

  it('writes a header-only CSV for an empty window', async () => {
    const r = await jobHostSummary({
      db,
      since: new Date('2020-01-01Z'),
      until: new Date('2020-01-02Z'),
      outputDir: out.path,
    }).gather();
    const files = csvFiles(r);
    expect(files).toHaveLength(1);
    expect(readFileSync(files[0]!, 'utf8')).toBe(`${header.join(',')}\n`);
  });
});

describe('job_host_summary: summaries whose host_id is NULL', () => {
  // Inside a transaction that is rolled back, so the shared fixture stays as the other tests expect.
  async function withRows<T>(sql: string[], body: () => Promise<T>): Promise<T> {
    await db.query('BEGIN');
    try {
      for (const q of sql) await db.query(q);
      return await body();
    } finally {
      await db.query('ROLLBACK');
    }
  }
  const byId = (rows: (string | null)[][]) => rows.map((r) => [r[0], r[3], r[4], r[5], r[6]]);

  it('take ansible_host and ansible_connection from a host of the same name, once per summary', async () => {
    const rows = await withRows(
      [
        // Two hosts named like the deleted one, in different inventories: the highest id is taken.
        `INSERT INTO main_host (id, created, modified, name, enabled, variables, inventory_id, ansible_facts) VALUES
          (20, '2023-06-01Z', '2023-06-01Z', 'gone', true, '{"ansible_host": "10.9.9.1", "ansible_connection": "local"}', 1, '{}'),
          (21, '2023-06-01Z', '2023-06-01Z', 'gone', false, 'ansible_host: 10.9.9.2', 2, '{}')`,
        // 107: NULL host_id, named like live host h2. 108: host 1 renamed within the window.
        `INSERT INTO main_jobhostsummary (id, created, modified, host_name, changed, dark, failures, ok, processed, skipped,
           failed, host_id, job_id, ignored, rescued) VALUES
          (107, '2024-03-01 16:00Z', '2024-03-01 16:00Z', 'h2', 0, 0, 0, 1, 1, 0, false, NULL, 10, 0, 0),
          (108, '2024-03-01 17:00Z', '2024-03-01 17:00Z', 'h1-renamed', 0, 0, 0, 1, 1, 0, false, 1, 10, 0, 0)`,
      ],
      async () => (await gatherCsv(jobHostSummary)).rows,
    );
    expect(byId(rows)).toEqual([
      ['100', 'h1', '1', '10.0.0.1', 'ssh'],
      ['101', 'h2', '2', '10.0.0.2', 'winrm'],
      ['103', 'h4', '4', N, N],
      ['104', 'gone', N, '10.9.9.2', N],
      ['105', 'h6', '6', N, N],
      ['107', 'h2', N, '10.0.0.2', 'winrm'],
      ['108', 'h1-renamed', '1', '10.0.0.1', 'ssh'],
    ]);
  });

  it('stay unmatched when no host has their name, and never match by name when host_id is set', async () => {
    const rows = await withRows(
      [`UPDATE main_host SET name = 'h2-new' WHERE id = 2`],
      async () => (await gatherCsv(jobHostSummary)).rows,
    );
    expect(byId(rows).filter((r) => r[0] === '101' || r[0] === '104')).toEqual([
      ['101', 'h2', '2', '10.0.0.2', 'winrm'],
      ['104', 'gone', N, N, N],
    ]);
  });
});

describe('job_host_summary_service', () => {
  it('takes the summaries of jobs that finished in the window, whatever their modified time, 27 columns', async () => {
    const { header, rows } = await gatherCsv(jobHostSummaryService);
    expect(header).toEqual([
      'id', 'created', 'modified', 'host_name', 'host_remote_id', 'changed', 'dark', 'failures', 'ok', 'processed',
      'skipped', 'failed', 'ignored', 'rescued', 'job_created', 'job_remote_id', 'job_template_remote_id',
      'job_template_name', 'ansible_version', 'launch_type', 'inventory_remote_id', 'inventory_name',
      'organization_remote_id', 'organization_name', 'project_remote_id', 'project_name', 'model',
    ]);
    // Job 10 only (11 finished exactly at `until`); 106 was modified after the window.
    expect(rows.map((r) => r[0])).toEqual(['100', '101', '103', '104', '105', '106']);
    const job10 = ['2024-03-01 10:00:00.123456+00', '10', '2', 'JT template name', '2.16.3', 'manual', '1', 'Inv A', '1', 'Default', '1', 'Proj', 'job'];
    expect(rows[0]).toEqual(['100', '2024-03-01 00:00:00+00', '2024-03-01 00:00:00+00', 'h1', '1', '1', '0', '0', '5', '1', '2', 'f', '0', '0', ...job10]);
    expect(rows[5]).toEqual(['106', '2024-03-02 01:00:00+00', '2024-03-02 01:00:00+00', 'late-host', N, '0', '0', '0', '1', '1', '0', 'f', '0', '0', ...job10]);
  });
});

describe('main_jobevent', () => {
  it('joins host events to the summaries in the window and keeps \\u escapes as text', async () => {
    const { header, rows } = await gatherCsv(mainJobEvent);
    expect(header).toEqual([
      'main_jobhostsummary_id', 'main_jobhostsummary_created', 'id', 'created', 'modified', 'job_created', 'event',
      'task_action', 'resolved_action', 'resolved_role', 'duration', 'failed', 'changed', 'playbook', 'play', 'task',
      'role', 'job_remote_id', 'host_remote_id', 'host_name',
    ]);
    const common = ['2024-03-01 10:00:02+00', '2024-03-01 10:00:02+00', '2024-03-01 10:00:00.123456+00'];
    expect(rows.sort((a, b) => Number(a[2]) - Number(b[2]))).toEqual([
      ['100', '2024-03-01 00:00:00+00', '1000', ...common, 'runner_on_ok', 'command', 'ansible.builtin.command', N, '1.5',
        'f', 't', 'site.yml', 'all', 'Task 1000', '', '10', '1', 'h1'],
      ['100', '2024-03-01 00:00:00+00', '1001', ...common, 'runner_on_failed', 'caf\\u00e9', 'ns.coll.mod', 'ns.coll.role',
        '0.25', 't', 'f', 'site.yml', 'all', 'Task 1001', '', '10', '1', 'h1'],
    ]);
  });
});

describe('main_jobevent_service', () => {
  it('takes the task-result and annotation events of the jobs finished in the window, with the parsed event_data columns', async () => {
    const { header, rows } = await gatherCsv(mainJobEventService);
    expect(header).toEqual([
      'id', 'created', 'modified', 'job_created', 'job_finished', 'ansible_version', 'uuid', 'parent_uuid', 'event', 'task_action',
      'resolved_action', 'resolved_role', 'duration', 'start', 'end', 'task_uuid', 'ignore_errors', 'failed', 'changed',
      'playbook', 'play', 'task', 'role', 'job_remote_id', 'job_id', 'host_remote_id', 'host_id', 'host_name', 'warnings',
      'deprecations', 'playbook_on_stats', 'job_failed', 'job_started',
    ]);
    const byId = new Map(rows.map((r) => [r[0], Object.fromEntries(header.map((h, i) => [h, r[i]]))]));
    // playbook_on_start (1002) and playbook_on_stats (1004) are not kept; job 11's event (1003) finished at `until`.
    expect([...byId.keys()].sort()).toEqual(['1000', '1001', '1005']);
    expect(byId.get('1000')).toMatchObject({
      job_created: '2024-03-01 10:00:00.123456+00',
      job_finished: '2024-03-01 10:05:00+00',
      ansible_version: '2.16.3',
      uuid: 'u-1000',
      parent_uuid: 'p-1000',
      task_action: 'command',
      start: '2024-03-01 10:00:02+00',
      end: '2024-03-01 10:00:03.5+00',
      task_uuid: 't-1',
      ignore_errors: 'f',
      warnings: '["w1"]',
      deprecations: N,
      playbook_on_stats: N,
      job_failed: 'f',
      job_started: '2024-03-01 10:00:01+00',
      host_id: '1',
      host_name: 'h1',
    });
    expect(byId.get('1001')).toMatchObject({ ignore_errors: 't', start: N });
    expect(byId.get('1005')).toMatchObject({ event: 'warning', host_id: N, host_name: '', playbook_on_stats: N });
  });

  it('writes a header-only CSV when no job finished in the window', async () => {
    const r = await mainJobEventService({ db, since: new Date('2020-01-01Z'), until: new Date('2020-01-02Z'), outputDir: out.path }).gather();
    const { rows } = readCsv(csvFiles(r)[0]!);
    expect(rows).toEqual([]);
  });
});

describe('main_host and main_host_daily', () => {
  it('lists enabled hosts with canonical facts and facts from JSON or YAML variables', async () => {
    const r = await mainHost({ db, outputDir: out.path }).gather();
    const { header, rows } = readCsv(csvFiles(r)[0]!);
    expect(header).toEqual([
      'host_name', 'host_id', 'inventory_remote_id', 'inventory_name', 'organization_remote_id', 'organization_name',
      'last_automation', 'ansible_host_variable', 'canonical_facts', 'facts',
    ]);
    expect(rows.map((x) => x.slice(0, 8))).toEqual([
      ['h1', '1', '1', 'Inv A', '1', 'Default', '2024-03-01 10:00:00.123456+00', '10.0.0.1'],
      ['h2', '2', '1', 'Inv A', '1', 'Default', N, '10.0.0.2'],
      ['h3', '3', '1', 'Inv A', '1', 'Default', N, '10.0.0.3'],
      ['h4', '4', '1', 'Inv A', '1', 'Default', N, N],
      ['h6', '6', '1', 'Inv A', '1', 'Default', N, N],
    ]);
    const canonical = rows.map((x) => JSON.parse(x[8]!));
    expect(Object.keys(canonical[0])).toEqual(['ansible_product_serial', 'ansible_machine_id', 'ansible_host', 'host_name', 'ansible_port']);
    expect(canonical[0]).toEqual({ ansible_product_serial: 'SER1', ansible_machine_id: 'mid1', ansible_host: '10.0.0.1', host_name: 'h1', ansible_port: 22 });
    expect(canonical[1]).toMatchObject({ ansible_host: '10.0.0.2', ansible_port: 5986 });
    expect(canonical[2]).toMatchObject({ ansible_host: '10.0.0.3', ansible_port: null });
    const facts = rows.map((x) => JSON.parse(x[9]!));
    expect(Object.keys(facts[0])).toEqual([
      'ansible_connection_variable', 'ansible_virtualization_type', 'ansible_virtualization_role', 'ansible_system_vendor',
      'ansible_product_name', 'ansible_architecture', 'ansible_processor', 'ansible_form_factor', 'ansible_bios_vendor',
      'ansible_bios_version', 'ansible_board_serial',
    ]);
    expect(facts[0]).toMatchObject({ ansible_connection_variable: 'ssh', ansible_processor: '["0", "GenuineIntel"]', ansible_system_vendor: null });
    expect(facts[1].ansible_connection_variable).toBe('winrm');
  });

  it('main_host_daily keeps enabled hosts created or modified in [since, until)', async () => {
    const { rows } = await gatherCsv(mainHostDaily);
    // h2 was modified inside the window; h5 too but is disabled; h6 exactly at `until`.
    expect(rows.map((x) => x[0])).toEqual(['h2']);
  });
});

describe('main_hostmetric', () => {
  const header =
    'hostname,host_id,first_automation,last_automation,automated_counter,deleted_counter,last_deleted,deleted,id,' +
    'used_in_inventories,ansible_product_serial,ansible_machine_id,ansible_host_variable,ansible_connection_variable\n';

  it('writes host metrics automated or deleted in [since, until), one row per inventory host of that name', async () => {
    const r = await mainHostMetric({ db, since: SINCE, until: UNTIL, outputDir: out.path }).gather();
    expect(csvFiles(r).map((f) => basename(f))).toEqual(['main_hostmetric.csv']);
    // Ordered by hostname, then host id (0 when no inventory host has that name); h3 automated and
    // h4 deleted exactly at `until` are left out, h2 deleted exactly at `since` is in.
    expect(readFileSync(csvFiles(r)[0]!, 'utf8')).toBe(
      header +
        'ghost,0,2023-06-01 00:00:00+00,2024-03-01 23:59:59.999999+00,1,0,,f,3,,,,,\n' +
        'h1,1,2023-06-01 00:00:00+00,2024-03-01 10:05:00+00,7,0,,f,1,2,SER1,mid1,10.0.0.1,ssh\n' +
        'h1,7,2023-06-01 00:00:00+00,2024-03-01 10:05:00+00,7,0,,f,1,2,,mid7,10.9.9.9,local\n' +
        'h2,2,2023-06-01 00:00:00+00,2024-02-20 00:00:00+00,3,1,2024-03-01 00:00:00+00,t,2,,,,10.0.0.2,winrm\n' +
        'h6,6,2023-06-01 00:00:00+00,2024-03-01 12:00:00+00,2,0,,f,6,1,,,,\n',
    );
  });

  it('writes only the header when nothing was automated or deleted in the window', async () => {
    const r = await mainHostMetric({ db, since: new Date('2024-03-03Z'), until: new Date('2024-03-04Z'), outputDir: out.path }).gather();
    expect(readFileSync(csvFiles(r)[0]!, 'utf8')).toBe(header);
  });
});

describe('unified_jobs and execution_environments', () => {
  it('unified_jobs: finished in [since, until), syncs included, 29 columns', async () => {
    const { header, rows } = await gatherCsv(unifiedJobs);
    expect(header).toEqual([
      'id', 'polymorphic_ctype_id', 'model', 'organization_id', 'organization_name', 'execution_environment_image',
      'inventory_id', 'inventory_name', 'execution_environment_id', 'created', 'name', 'unified_job_template_id',
      'launch_type', 'schedule_id', 'execution_node', 'controller_node', 'cancel_flag', 'status', 'failed', 'started',
      'finished', 'elapsed', 'job_explanation', 'instance_group_id', 'installed_collections', 'ansible_version', 'forks',
      'job_template_name', 'scm_type',
    ]);
    // 11 finished exactly at `until`, 13 has not finished.
    expect(rows).toEqual([
      ['10', '1', 'job', '1', 'Default', 'quay.io/ansible/awx-ee:latest', '1', 'Inv A', '1', '2024-03-01 10:00:00.123456+00',
        'JT run', '2', 'manual', N, 'node1', 'ctl1', 'f', 'successful', 'f', '2024-03-01 10:00:01+00',
        '2024-03-01 10:05:00+00', '299.500', '', N, '{"ansible.posix": {"version": "1.5.4"}}', '2.16.3', '5',
        'JT template name', 'git'],
      ['12', '2', 'projectupdate', '1', 'Default', 'quay.io/ansible/awx-ee:latest', N, N, '1', '2024-03-01 11:00:00+00',
        'Proj update', '1', 'sync', N, '', '', 'f', 'successful', 'f', '2024-03-01 11:00:01+00', '2024-03-01 11:01:00+00',
        '59.000', '', N, '{}', '', N, 'Proj', N],
    ]);
  });

  it('execution_environments dumps the table', async () => {
    const r = await executionEnvironments({ db, outputDir: out.path }).gather();
    expect(readFileSync(csvFiles(r)[0]!, 'utf8')).toBe(
      'id,created,modified,description,image,managed,created_by_id,credential_id,modified_by_id,organization_id,name,pull\n' +
        '1,2023-01-01 00:00:00.5+00,2023-02-01 00:00:00+00,default,quay.io/ansible/awx-ee:latest,t,,,,,AWX EE,missing\n',
    );
  });
});

describe('credentials_service', () => {
  it('counts credentials per type and the distinct jobs finished in [since, until) that used one, no secret read', async () => {
    const r = await credentialsService({ db, since: SINCE, until: UNTIL, outputDir: out.path }).gather();
    expect(csvFiles(r).map((f) => basename(f))).toEqual(['credentials_service.csv']);
    const text = readFileSync(csvFiles(r)[0]!, 'utf8');
    expect(text).toBe(
      'id,name,credential_type,managed,credential_count,used_by_finished_job_count\n' +
        '1,Machine,Machine,t,2,2\n' +
        '2,Source Control,Source Control,t,1,1\n' +
        '3,Custom Vault,Custom Vault,f,1,1\n' +
        '4,Amazon Web Services,Amazon Web Services,t,0,0\n',
    );
    expect(text).not.toMatch(/s3cr3t|encrypted|password|admin/);
  });

  it('still lists every type with its credential count when no job finished in the window', async () => {
    const r = await credentialsService({ db, since: new Date('2020-01-01Z'), until: new Date('2020-01-02Z'), outputDir: out.path }).gather();
    expect(readCsv(csvFiles(r)[0]!).rows.map((x) => [x[0], x[4], x[5]])).toEqual([
      ['1', '2', '0'], ['2', '1', '0'], ['3', '1', '0'], ['4', '0', '0'],
    ]);
  });
});

describe('controller_version_service', () => {
  it('lists each version of the enabled instances once, as text in ascending order, whatever the window', async () => {
    const r = await controllerVersionService({ db, since: new Date('2020-01-01Z'), until: new Date('2020-01-01Z'), outputDir: out.path }).gather();
    expect(csvFiles(r).map((f) => basename(f))).toEqual(['controller_version_service.csv']);
    // 9.9.9 is disabled, '' is no version; 4.5.0 runs on two instances.
    expect(readFileSync(csvFiles(r)[0]!, 'utf8')).toBe('controller_version\n4.10.0\n4.5.0\n4.6.2\n');
  });

  it('is a snapshot (limit: gather stores it at the last second before until, the reference until_slicing)', () => {
    expect(controllerVersionService.meta.slicing).toBe('limit');
  });
});

describe('feature_flags_service', () => {
  it('lists the boolean flags whose value is True, by name, whatever the window', async () => {
    const r = await featureFlagsService({ db, since: new Date('2020-01-01Z'), until: new Date('2020-01-01Z'), outputDir: out.path }).gather();
    expect(csvFiles(r).map((f) => basename(f))).toEqual(['feature_flags_service.csv']);
    expect(readFileSync(csvFiles(r)[0]!, 'utf8')).toBe(
      'name,condition,value,description,support_level,toggle_type,visibility\n' +
        'A_FLAG,boolean,True,"",GENERALLY_AVAILABLE,install-time,f\n' +
        'Z_FLAG,boolean,True,"Parses events, reports ""resources""",TECHNOLOGY_PREVIEW,run-time,t\n',
    );
  });

  it('is a snapshot (limit), and fails naming the table on a controller without it', async () => {
    expect(featureFlagsService.meta.slicing).toBe('limit');
    await db.query('BEGIN');
    try {
      await db.query('DROP TABLE dab_feature_flags_aapflag');
      await expect(featureFlagsService({ db, outputDir: out.path }).gather()).rejects.toThrow(/dab_feature_flags_aapflag/);
    } finally {
      await db.query('ROLLBACK');
    }
  });
});

describe('task_executions_service', () => {
  it('lists executions started in [since, until) that name a collector type, the type as JSON, by type', async () => {
    const r = await taskExecutionsService({ db, since: SINCE, until: UNTIL, outputDir: out.path }).gather();
    expect(csvFiles(r).map((f) => basename(f))).toEqual(['task_executions_service.csv']);
    expect(readFileSync(csvFiles(r)[0]!, 'utf8')).toBe(
      'started_at,completed_at,collector_type\n' +
        '2024-03-01 05:00:00+00,2024-03-01 05:00:01+00,null\n' +
        '2024-03-01 02:00:00+00,2024-03-01 02:00:01+00,"""execution_environments"""\n' +
        '2024-03-01 00:00:00+00,2024-03-01 00:00:04.5+00,"""unified_jobs"""\n' +
        '2024-03-01 01:00:00+00,,"""unified_jobs"""\n',
    );
  });

  it('is sliced by day, and fails naming the table where the metrics service has none', async () => {
    expect(taskExecutionsService.meta.slicing).toBe('daily');
    const r = await taskExecutionsService({ db, since: new Date('2024-03-02Z'), until: new Date('2024-03-03Z'), outputDir: out.path }).gather();
    expect(readCsv(csvFiles(r)[0]!).rows).toEqual([['2024-03-02 00:00:00+00', '2024-03-02 00:00:01+00', '"unified_jobs"']]);
    const other = await tempdir('collectors-out');
    await db.query('BEGIN');
    try {
      await db.query('DROP TABLE tasks_taskexecution');
      await expect(taskExecutionsService({ db, since: SINCE, until: UNTIL, outputDir: other.path }).gather()).rejects.toThrow(/tasks_taskexecution/);
    } finally {
      await db.query('ROLLBACK');
      await other.remove();
    }
  });
});

describe('table_metadata', () => {
  const header = 'schemaname,tablename,estimated_row_count,total_size_bytes,table_size_bytes,indexes_size_bytes\n';

  /** `[total, heap, indexes]` bytes of these relations, summed: the catalog's own functions, relation by relation. */
  async function sizes(...relations: string[]): Promise<string> {
    let total = 0;
    let heap = 0;
    let indexes = 0;
    for (const r of relations) {
      const { rows } = await db.query<{ t: string; h: string; i: string }>(
        'SELECT pg_total_relation_size($1::regclass) AS t, pg_relation_size($1::regclass) AS h, pg_indexes_size($1::regclass) AS i',
        [r],
      );
      total += Number(rows[0]!.t);
      heap += Number(rows[0]!.h);
      indexes += Number(rows[0]!.i);
    }
    return `${total},${heap},${indexes}`;
  }

  async function gatherText(): Promise<string> {
    const r = await tableMetadata({ db, outputDir: out.path }).gather();
    expect(csvFiles(r).map((f) => basename(f))).toEqual(['table_metadata.csv']);
    return readFileSync(csvFiles(r)[0]!, 'utf8');
  }

  it('reports live rows (from the statistics) and sizes of the three tables, main_jobevent over its partitions', async () => {
    // The fixture's inserts reach the statistics once this backend flushes them.
    await db.query('SELECT pg_stat_force_next_flush()');
    await db.query('SELECT 1');
    expect(await gatherText()).toBe(
      header +
        `public,main_jobevent,6,${await sizes('main_jobevent_default')}\n` +
        `public,main_unifiedjob,4,${await sizes('main_unifiedjob')}\n` +
        `public,main_jobhostsummary,7,${await sizes('main_jobhostsummary')}\n`,
    );
  });

  it('sums every partition of main_jobevent, and leaves out a table that is missing', async () => {
    await db.query('BEGIN');
    try {
      await db.query(`CREATE TABLE main_jobevent_2020 PARTITION OF main_jobevent FOR VALUES FROM ('2020-01-01Z') TO ('2020-01-02Z')`);
      await db.query(`INSERT INTO main_jobevent (created, modified, event, job_id, job_created)
        SELECT '2020-01-01Z', '2020-01-01Z', 'verbose', 1, '2020-01-01 01:00Z' FROM generate_series(1, 500)`);
      await db.query('DROP TABLE main_jobhostsummary');
      const rows = (await gatherText()).split('\n');
      expect(rows[1]).toBe(`public,main_jobevent,6,${await sizes('main_jobevent_default', 'main_jobevent_2020')}`);
      expect(rows.slice(2).map((x) => x.split(',')[1])).toEqual(['main_unifiedjob', undefined]);
    } finally {
      await db.query('ROLLBACK');
    }
  });
});

describe('main_indirectmanagednodeaudit', () => {
  it('writes audits created in the window with job, inventory, organization and project', async () => {
    const { header, rows } = await gatherCsv(mainIndirectManagedNodeAudit);
    expect(header).toEqual([
      'id', 'created', 'host_name', 'host_remote_id', 'canonical_facts', 'facts', 'events', 'task_runs', 'job_created',
      'job_remote_id', 'job_template_remote_id', 'job_template_name', 'inventory_remote_id', 'inventory_name',
      'organization_remote_id', 'organization_name', 'project_remote_id', 'project_name',
    ]);
    expect(rows).toEqual([
      ['1', '2024-03-01 00:00:00+00', 'vm-1', N, '{"host_name": "vm-1"}', '{"device_type": "vm"}', '["vmware.vmware.vm_info"]',
        '3', '2024-03-01 10:00:00.123456+00', '10', '2', 'JT run', '1', 'Inv A', '1', 'Default', '1', 'Proj'],
    ]);
  });

  it('is skipped, with a warning and no files, when the table does not exist', async () => {
    const warnings: string[] = [];
    const logger = { warn: (m: string) => warnings.push(m), info() {}, debug() {}, error() {} } as unknown as Logger;
    await db.query('BEGIN');
    try {
      await db.query('DROP TABLE main_indirectmanagednodeaudit');
      const r = await mainIndirectManagedNodeAudit({ db, since: SINCE, until: UNTIL, outputDir: out.path, logger }).gather();
      expect(r).toMatchObject({ format: 'csv', files: [] });
      expect(r.format === 'csv' && r.skipped).toMatch(/does not exist/);
      expect(warnings).toHaveLength(1);
    } finally {
      await db.query('ROLLBACK');
    }
  });
});

describe('config', () => {
  it('reads settings, license and the newest enabled instance version', async () => {
    const r = await config({ db, billingProviderParams: { ship_path: '/x' }, platformType: 'k8s' }).gather();
    expect(r.format).toBe('json');
    const data = r.format === 'json' ? r.data! : {};
    expect(Object.keys(data)).toEqual([
      'authentication_backends', 'controller_url_base', 'external_logger_enabled', 'external_logger_type', 'install_uuid',
      'instance_uuid', 'logging_aggregators', 'pendo_tracking', 'subscription_usage_model', 'account_number',
      'automated_instances', 'automated_since', 'compliant', 'current_instances', 'date_expired', 'date_warning',
      'free_instances', 'grace_period_remaining', 'license_date', 'license_expiry', 'license_type', 'pool_id',
      'product_name', 'satellite', 'sku', 'subscription_id', 'subscription_name', 'support_level',
      'total_licensed_instances', 'trial', 'usage', 'valid_key', 'billing_provider_params', 'controller_version',
      'metrics_utility_version', 'platform',
    ]);
    expect(data).toMatchObject({
      authentication_backends: ['awx.main.backends.AWXModelBackend'],
      controller_url_base: 'https://controller.example.com',
      external_logger_enabled: false,
      external_logger_type: null,
      install_uuid: '00000000-aaaa-4bbb-8ccc-000000000001',
      instance_uuid: '00000000-aaaa-4bbb-8ccc-000000000002',
      logging_aggregators: ['awx', 'job_events'],
      pendo_tracking: 'off',
      subscription_usage_model: '',
      license_type: 'enterprise',
      license_date: 1735689600,
      license_expiry: 86400,
      total_licensed_instances: 100,
      free_instances: 0,
      subscription_name: 'AAP',
      valid_key: true,
      sku: null,
      billing_provider_params: { ship_path: '/x' },
      controller_version: '4.6.2',
      metrics_utility_version: '0.1.0',
    });
    expect(data.platform).toMatchObject({ system: 'Linux', type: 'k8s' });
    expect((data.platform as { dist: unknown[] }).dist).toHaveLength(3);
  });

  it('reads the same values from a jsonb value column, and keeps a non-JSON value as text', async () => {
    await db.query('BEGIN');
    try {
      await db.query(`UPDATE conf_setting SET value = 'off' WHERE key = 'PENDO_TRACKING_STATE'`);
      const text = await config({ db }).gather();
      expect(text.format === 'json' && text.data?.pendo_tracking).toBe('off');
      await db.query(`UPDATE conf_setting SET value = '"off"' WHERE key = 'PENDO_TRACKING_STATE'`);
      await db.query('ALTER TABLE conf_setting ALTER COLUMN value TYPE jsonb USING value::jsonb');
      const r = await config({ db }).gather();
      const data = r.format === 'json' ? r.data! : {};
      expect(data).toMatchObject({
        install_uuid: '00000000-aaaa-4bbb-8ccc-000000000001',
        authentication_backends: ['awx.main.backends.AWXModelBackend'],
        pendo_tracking: 'off',
        external_logger_enabled: false,
        total_licensed_instances: 100,
      });
    } finally {
      await db.query('ROLLBACK');
    }
  });

  it('validates params at construction and touches no database until gather', () => {
    let queried = false;
    const fake = { query: () => { queried = true; throw new Error('no'); } } as unknown as pg.Client;
    expect(() => config({ db: fake, billingProviderParams: [] as unknown as Record<string, unknown> })).toThrow(/billingProviderParams/);
    expect(() => config({})).toThrow(CollectorError);
    expect(() => config({})).toThrow(/config: param "db"/);
    config({ db: fake });
    expect(queried).toBe(false);
  });
});

describe('parameter validation and registry', () => {
  it('names the collector and the missing or wrong parameter', () => {
    expect(() => jobHostSummary({ db, until: UNTIL, outputDir: out.path })).toThrow(/^job_host_summary: param "since"/);
    expect(() => mainJobEvent({ db, since: SINCE, until: UNTIL })).toThrow(/main_jobevent: param "outputDir"/);
    expect(() => unifiedJobs({ db, since: UNTIL, until: SINCE, outputDir: out.path })).toThrow(/"since" .* is after "until"/);
    expect(() => mainHost({ db, outputDir: out.path, maxFileSize: -1 })).toThrow(/maxFileSize/);
    expect(() => mainHost({ db, outputDir: out.path, since: new Date('bad') })).not.toThrow();
  });

  it('lists the collectors in the reference order with section 1.7 metadata', () => {
    expect(controllerCollectors.map((c) => [c.meta.key, c.meta.version, c.meta.format, typeof c.meta.slicing === 'string' ? c.meta.slicing : undefined, c.meta.optional ?? false])).toEqual([
      ['config', '1.0', 'json', undefined, false],
      ['job_host_summary', '1.2', 'csv', 'daily', false],
      ['main_jobevent', '1.0', 'csv', 'daily', true],
      ['main_indirectmanagednodeaudit', '1.0', 'csv', 'daily', true],
      ['main_host', '1.0', 'csv', 'limit', true],
      ['main_host_daily', '1.0', 'csv', 'daily', true],
      ['main_hostmetric', '1.0', 'csv', 'daily', true],
      ['total_workers_vcpu', '1.0', 'json', 'limit', true],
      ['unified_jobs', '1.4', 'csv', 'daily', true],
      ['job_host_summary_service', '1.4', 'csv', 'daily', true],
      ['main_jobevent_service', '1.4', 'csv', 'daily', true],
      ['execution_environments', '1.4', 'csv', 'limit', true],
      ['controller_version_service', '1.4', 'csv', 'limit', true],
      ['credentials_service', '1.4', 'csv', 'daily', true],
      ['table_metadata', '1.4', 'csv', 'limit', true],
      ['feature_flags_service', '1.4', 'csv', 'limit', true],
      ['task_executions_service', '1.0', 'csv', 'daily', true],
    ]);
    // Snapshots: exactly what the newest reference registers with until_slicing.
    expect(controllerCollectors.filter((c) => c.meta.slicing === 'limit').map((c) => c.meta.key)).toEqual([
      'main_host', 'total_workers_vcpu', 'execution_environments', 'controller_version_service', 'table_metadata',
      'feature_flags_service',
    ]);
    expect(controllerCollectors[0]!.meta.config).toBe(true);
  });

  it('refuses to overwrite files already in outputDir', async () => {
    await gatherCsv(jobHostSummary);
    await expect(jobHostSummary({ db, since: SINCE, until: UNTIL, outputDir: out.path }).gather()).rejects.toThrow(/EEXIST|exists/);
  });
});

describe('prepareJsonCheck', () => {
  it('uses a pg_temp function on PostgreSQL 15 and regex when forced', async () => {
    const { rows } = await db.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`);
    const expected = rows[0]!.v >= 160000 ? 'pg_input_is_valid' : 'temp-function';
    expect(await prepareJsonCheck(db)).toBe(expected);
    expect(await prepareJsonCheck(db, 'regex')).toBe('regex');
  });

  it('parses Postgres CSV the way the tests assume', () => {
    expect(parseCsv('a,b\n,""\n')).toEqual([['a', 'b'], [null, '']]);
  });
});
