import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readWorkbook } from '@tally/reports';
import { DirectoryStorage } from '@tally/storage';
import { S3Storage } from '@tally/storage-s3';
import { createTestDatabase, type TestDatabase } from '@tally/testkit';
import type pg from 'pg';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyControllerSchema, seedController } from '@tally/demo';
import { runCli } from './run-cli.js';

// gather --ship, rollup and report against one bucket under a ship path, as an
// operator sharing a bucket with metrics-utility runs them; and the targets each
// command refuses at start.
const BUCKET = 'billing';
const SHIP_PATH = 'metrics-utility/shipped_data/billing';
let tdb: TestDatabase;
let db: pg.Client;
let dir: string;
let server: S3rver;
let endpoint: string;

const cli = (argv: string[], env: Record<string, string | undefined> = {}) => runCli(argv, env, dir);

beforeAll(async () => {
  tdb = await createTestDatabase('cli_s3_layout');
  db = await tdb.client();
  await applyControllerSchema(db);
  await seedController(db, { days: 2, jobsPerDay: 4, hosts: 12, orgs: 2, seed: 5, end: new Date('2024-03-11T00:00:00Z'), hostsPerJob: 4 });
  dir = mkdtempSync(join(tmpdir(), 'tally-s3-layout-'));
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: join(dir, 's3rver'), configureBuckets: [{ name: BUCKET, configs: [] }] });
  endpoint = `http://127.0.0.1:${(await server.run()).port}`;
});
afterAll(async () => {
  await server?.close();
  await tdb?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const s3Env = (shipPath: string) => ({
  DATABASE_URL: tdb.url,
  METRICS_UTILITY_SHIP_TARGET: 's3',
  METRICS_UTILITY_SHIP_PATH: shipPath,
  METRICS_UTILITY_BUCKET_NAME: BUCKET,
  METRICS_UTILITY_BUCKET_ENDPOINT: endpoint,
  METRICS_UTILITY_BUCKET_REGION: 'us-east-1',
  METRICS_UTILITY_BUCKET_ACCESS_KEY: 'S3RVER',
  METRICS_UTILITY_BUCKET_SECRET_KEY: 'S3RVER',
  METRICS_UTILITY_REPORT_TYPE: 'CCSPv2',
});

/** Unique hosts (Usage Reporting G7) and the Managed nodes column of a workbook. */
async function billed(path: string): Promise<{ hosts: unknown; nodes: unknown[] }> {
  const wb = await readWorkbook(path);
  const nodes: unknown[] = [];
  wb.getWorksheet('Managed nodes')!.eachRow((row, i) => {
    if (i > 1) nodes.push(row.getCell(1).value);
  });
  return { hosts: wb.getWorksheet('Usage Reporting')!.getCell('G7').value, nodes: nodes.sort() };
}

describe('S3 layout end to end', () => {
  it('gather --ship, rollup and report round-trip under {ship_path}/ in the bucket, and bill what a directory run bills', async () => {
    const env = s3Env(`/${SHIP_PATH}/`);
    const window = ['--since', '2024-03-09', '--until', '2024-03-11'];
    const g = await cli(['gather', '--ship', ...window], env);
    expect(g.code, g.stderr).toBe(0);
    const r = await cli(['rollup', ...window, '--period', 'day'], env);
    expect(r.code, r.stderr).toBe(0);
    const rep = await cli(['report', '--month', '2024-03'], env);
    expect(rep.code, rep.stderr).toBe(0);

    const root = new S3Storage({ bucket: BUCKET, endpoint, region: 'us-east-1', accessKey: 'S3RVER', secretKey: 'S3RVER' });
    try {
      const keys = await root.glob('**');
      // Everything under the ship path, nothing at the bucket root, no key with a leading slash.
      expect(keys.length).toBeGreaterThan(3);
      for (const k of keys) expect(k.startsWith(`${SHIP_PATH}/`), k).toBe(true);
      const rel = keys.map((k) => k.slice(SHIP_PATH.length + 1));
      const data = rel.filter((k) => k.startsWith('data/'));
      expect(data.length).toBeGreaterThanOrEqual(2);
      for (const k of data) expect(k).toMatch(/^data\/2024\/03\/(09|10)\/[0-9a-f-]+-2024-03-(09|10)-\d{6}\+0000-2024-03-\d\d-\d{6}\+0000-\d+\.tar\.gz$/);
      expect(rel.filter((k) => k.startsWith('rollups/')).some((k) => /^rollups\/job_host_summary\/period=day\/date=2024-03-09\/part-0\.parquet$/.test(k))).toBe(true);
      // the workbook and its audit trail
      expect(rel.filter((k) => k.startsWith('reports/'))).toEqual(['reports/2024/03/CCSPv2-2024-03.inputs.json', 'reports/2024/03/CCSPv2-2024-03.xlsx']);
      expect(rel.filter((k) => !/^(data|rollups|reports)\//.test(k))).toEqual([]);

      // The same window gathered into a directory bills the same hosts.
      const ship = join(dir, 'ship');
      const denv = { ...env, METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: ship };
      expect((await cli(['gather', '--ship', ...window], denv)).code).toBe(0);
      expect((await cli(['report', '--month', '2024-03'], denv)).code).toBe(0);
      await using fromS3 = await root.get(`${SHIP_PATH}/reports/2024/03/CCSPv2-2024-03.xlsx`);
      const s3Bill = await billed(fromS3.path);
      expect(s3Bill.nodes.length).toBeGreaterThan(0);
      const local = new DirectoryStorage({ base: ship });
      expect(await billed((await local.get('reports/2024/03/CCSPv2-2024-03.xlsx')).path)).toEqual(s3Bill);
    } finally {
      await root.close();
    }
  });

  it('refuses at start, exit 2 and one line: gather to segment, report and rollup from put-only targets', async () => {
    // An unreachable database: the refusal comes before anything connects.
    const base = { DATABASE_URL: 'postgres://tally@127.0.0.1:1/awx', METRICS_UTILITY_REPORT_TYPE: 'CCSPv2' };
    const seg = await cli(['gather', '--ship'], { ...base, METRICS_UTILITY_SHIP_TARGET: 'segment', METRICS_UTILITY_SEGMENT_WRITE_KEY: 'wk-secret' });
    expect(seg.code).toBe(2);
    expect(seg.stderr).toBe(
      'tally: METRICS_UTILITY_SHIP_TARGET=segment cannot take gathered tarballs: Segment accepts dicts (JSON objects, sent as track events in chunks of at most 32 KiB), not files, streams or tarballs; gather ships to directory, s3, crc, crc-mutual, postgres or ingress\n',
    );
    const crc = { ...base, METRICS_UTILITY_SHIP_TARGET: 'crc', METRICS_UTILITY_SERVICE_ACCOUNT_ID: 'id', METRICS_UTILITY_SERVICE_ACCOUNT_SECRET: 'secret' };
    const rep = await cli(['report', '--month', '2024-03'], crc);
    expect(rep.code).toBe(2);
    expect(rep.stderr).toBe(
      'tally: METRICS_UTILITY_SHIP_TARGET=crc cannot be read back (the console ingress only accepts uploads); tally report reads tarballs from directory or s3 (or controller_db)\n',
    );
    const roll = await cli(['rollup', '--since', '2024-03-01'], crc);
    expect(roll.code).toBe(2);
    expect(roll.stderr).toMatch(/^tally: METRICS_UTILITY_SHIP_TARGET=crc cannot be read back .*; tally rollup reads tarballs from directory or s3\n$/);
  });
});
