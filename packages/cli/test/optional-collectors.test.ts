import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCsv } from '@tally/core';
import { readTarballMembers } from '@tally/package';
import { createTestDatabase, type TestDatabase } from '@tally/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyControllerSchema, seedController } from '@tally/demo';
import { runCli } from './run-cli.js';

// The optional collectors added from the newest metrics-utility, gathered end to end: named in
// METRICS_UTILITY_OPTIONAL_COLLECTORS (job_host_summary off), shipped to a directory, read back.
let tdb: TestDatabase;
let db: pg.Client;
let dir: string;

beforeAll(async () => {
  tdb = await createTestDatabase('cli_optional');
  db = await tdb.client();
  await applyControllerSchema(db);
  await seedController(db, { days: 2, jobsPerDay: 4, hosts: 10, orgs: 1, seed: 3, end: new Date('2024-03-11T00:00:00Z'), hostsPerJob: 3 });
  dir = mkdtempSync(join(tmpdir(), 'tally-optional-'));
});
afterAll(async () => {
  await tdb?.drop();
  rmSync(dir, { recursive: true, force: true });
});

interface Shipped {
  /** `data/YYYY/MM/DD/<name>` of each tarball, sorted. */
  names: string[];
  /** Each tarball's CSV member of the collector: its header and rows. */
  csv: { header: string[]; rows: (string | null)[][] }[];
}

/** `tally gather --ship` with only `key` enabled; what landed in the ship path. */
async function gatherOnly(key: string, since: string, until: string): Promise<Shipped> {
  const shipPath = join(dir, key);
  const env = {
    DATABASE_URL: tdb.url,
    METRICS_UTILITY_SHIP_TARGET: 'directory',
    METRICS_UTILITY_SHIP_PATH: shipPath,
    METRICS_UTILITY_OPTIONAL_COLLECTORS: key,
    METRICS_UTILITY_DISABLE_JOB_HOST_SUMMARY_COLLECTOR: 'true',
  };
  const r = await runCli(['gather', '--ship', '--since', since, '--until', until], env, dir);
  expect(r.code, r.stderr).toBe(0);
  const names = readdirSync(shipPath, { recursive: true }).map(String).filter((f) => f.endsWith('.tar.gz')).sort();
  const csv = [];
  for (const name of names) {
    const members = await readTarballMembers(join(shipPath, name));
    expect(members.map((m) => m.name)).toEqual([`./${key}.csv`, './config.json', './data_collection_status.csv', './manifest.json']);
    const [header, ...rows] = parseCsv(members[0]!.data.toString('utf8'));
    csv.push({ header: header as string[], rows });
  }
  return { names, csv };
}

const day = (name: string) => name.slice(0, 'data/2024/03/09'.length);

describe('optional collectors through tally gather', () => {
  it('main_hostmetric: one tarball per day, each with the host metrics automated or deleted that day', async () => {
    const shipped = await gatherOnly('main_hostmetric', '2024-03-09', '2024-03-11');
    expect(shipped.names.map(day)).toEqual(['data/2024/03/09', 'data/2024/03/10']);
    for (const [i, since] of ['2024-03-09', '2024-03-10'].entries()) {
      const { rows } = await db.query<{ hostname: string; host_id: string }>(
        `SELECT hm.hostname, COALESCE(h.id, 0)::text AS host_id FROM main_hostmetric hm LEFT JOIN main_host h ON h.name = hm.hostname
          WHERE (hm.last_automation >= $1::timestamptz AND hm.last_automation < $1::timestamptz + interval '1 day')
             OR (hm.last_deleted >= $1::timestamptz AND hm.last_deleted < $1::timestamptz + interval '1 day')
          ORDER BY 1, COALESCE(h.id, 0)`,
        [`${since}T00:00:00Z`],
      );
      expect(rows.length).toBeGreaterThan(0);
      expect(shipped.csv[i]!.header.slice(0, 2)).toEqual(['hostname', 'host_id']);
      expect(shipped.csv[i]!.rows.map((r) => [r[0], r[1]])).toEqual(rows.map((r) => [r.hostname, r.host_id]));
    }
  });
  it('credentials_service: one tarball per day, each counting the jobs finished that day that used a credential type', async () => {
    await db.query(`INSERT INTO main_credentialtype (id, created, modified, name, kind, managed) VALUES
      (1, '2023-01-01Z', '2023-01-01Z', 'Machine', 'ssh', true), (2, '2023-01-01Z', '2023-01-01Z', 'Vault', 'vault', true)`);
    await db.query(`INSERT INTO main_credential (id, created, modified, name, inputs, credential_type_id)
      VALUES (1, '2023-01-01Z', '2023-01-01Z', 'm', '{"password": "$encrypted$nope"}', 1)`);
    // Every job finished on March 9 used the machine credential.
    const { rowCount } = await db.query(`INSERT INTO main_unifiedjob_credentials (unifiedjob_id, credential_id)
      SELECT id, 1 FROM main_unifiedjob WHERE finished >= '2024-03-09Z' AND finished < '2024-03-10Z'`);
    expect(rowCount).toBeGreaterThan(0);
    const shipped = await gatherOnly('credentials_service', '2024-03-09', '2024-03-11');
    expect(shipped.names.map(day)).toEqual(['data/2024/03/09', 'data/2024/03/10']);
    expect(shipped.csv.map((c) => c.header)).toEqual([0, 1].map(() => ['id', 'name', 'credential_type', 'managed', 'credential_count', 'used_by_finished_job_count']));
    expect(shipped.csv.map((c) => c.rows)).toEqual([
      [['1', 'Machine', 'Machine', 't', '1', String(rowCount)], ['2', 'Vault', 'Vault', 't', '0', '0']],
      [['1', 'Machine', 'Machine', 't', '1', '0'], ['2', 'Vault', 'Vault', 't', '0', '0']],
    ]);
  });
  it('controller_version_service: one snapshot, in the folder of the last second before until', async () => {
    const { rows } = await db.query<{ version: string }>(`SELECT DISTINCT version FROM main_instance WHERE enabled AND version <> '' ORDER BY 1`);
    expect(rows.length).toBeGreaterThan(0);
    const shipped = await gatherOnly('controller_version_service', '2024-03-09', '2024-03-11');
    expect(shipped.names.map(day)).toEqual(['data/2024/03/10']);
    expect(shipped.csv).toEqual([{ header: ['controller_version'], rows: rows.map((r) => [r.version]) }]);
  });
  it('feature_flags_service: one snapshot, in the folder of the last second before until, the enabled flags by name', async () => {
    await db.query(`INSERT INTO dab_feature_flags_aapflag (modified, created, name, ui_name, condition, value, support_level, visibility,
        toggle_type, description) VALUES
      ('2024-01-01Z', '2024-01-01Z', 'FEATURE_INDIRECT_NODE_COUNTING_ENABLED', 'Indirect', 'boolean', 'True', 'TECHNOLOGY_PREVIEW', true, 'run-time', 'Counts, indirectly'),
      ('2024-01-01Z', '2024-01-01Z', 'FEATURE_EDA_ANALYTICS_ENABLED', 'EDA', 'boolean', 'False', 'TECHNOLOGY_PREVIEW', false, 'install-time', ''),
      ('2024-01-01Z', '2024-01-01Z', 'FEATURE_A_ENABLED', 'A', 'boolean', 'True', 'GENERALLY_AVAILABLE', false, 'install-time', '')`);
    const shipped = await gatherOnly('feature_flags_service', '2024-03-09', '2024-03-11');
    expect(shipped.names.map(day)).toEqual(['data/2024/03/10']);
    expect(shipped.csv).toEqual([{
      header: ['name', 'condition', 'value', 'description', 'support_level', 'toggle_type', 'visibility'],
      rows: [
        ['FEATURE_A_ENABLED', 'boolean', 'True', '', 'GENERALLY_AVAILABLE', 'install-time', 'f'],
        ['FEATURE_INDIRECT_NODE_COUNTING_ENABLED', 'boolean', 'True', 'Counts, indirectly', 'TECHNOLOGY_PREVIEW', 'run-time', 't'],
      ],
    }]);
  });
  it('task_executions_service: one tarball per day, each with the executions started that day that name a collector type', async () => {
    await db.query(`INSERT INTO tasks_taskexecution (started_at, completed_at, result_data) VALUES
      ('2024-03-09 10:00Z', '2024-03-09 10:00:02Z', '{"collector_type": "unified_jobs"}'),
      ('2024-03-09 09:00Z', NULL, '{"collector_type": "table_metadata"}'),
      ('2024-03-09 11:00Z', '2024-03-09 11:00:01Z', '{"task": "daily_metrics_rollup"}'),
      ('2024-03-10 23:59:59Z', '2024-03-11 00:00:03Z', '{"collector_type": "unified_jobs"}'),
      ('2024-03-11 00:00Z', '2024-03-11 00:00:01Z', '{"collector_type": "unified_jobs"}')`);
    const shipped = await gatherOnly('task_executions_service', '2024-03-09', '2024-03-11');
    expect(shipped.names.map(day)).toEqual(['data/2024/03/09', 'data/2024/03/10']);
    expect(shipped.csv).toEqual([
      {
        header: ['started_at', 'completed_at', 'collector_type'],
        rows: [['2024-03-09 09:00:00+00', null, '"table_metadata"'], ['2024-03-09 10:00:00+00', '2024-03-09 10:00:02+00', '"unified_jobs"']],
      },
      { header: ['started_at', 'completed_at', 'collector_type'], rows: [['2024-03-10 23:59:59+00', '2024-03-11 00:00:03+00', '"unified_jobs"']] },
    ]);
  });
  it('table_metadata: one snapshot, in the folder of the last second before until, the three tables in order', async () => {
    const shipped = await gatherOnly('table_metadata', '2024-03-09', '2024-03-11');
    expect(shipped.names.map(day)).toEqual(['data/2024/03/10']);
    const [csv] = shipped.csv;
    expect(csv!.header).toEqual(['schemaname', 'tablename', 'estimated_row_count', 'total_size_bytes', 'table_size_bytes', 'indexes_size_bytes']);
    expect(csv!.rows.map((r) => r.slice(0, 2))).toEqual([['public', 'main_jobevent'], ['public', 'main_unifiedjob'], ['public', 'main_jobhostsummary']]);
    for (const r of csv!.rows) {
      const [rows, total, heap, indexes] = r.slice(2).map(Number) as [number, number, number, number];
      expect(rows).toBeGreaterThan(0); // the seeder ANALYZEs every table
      expect(heap).toBeGreaterThan(0);
      expect(total).toBeGreaterThanOrEqual(heap + indexes);
    }
  });
});
