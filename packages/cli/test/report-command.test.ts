import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ConfigError, loadConfig } from '@tally/core';
import { readWorkbook } from '@tally/reports';
import { createTestDatabase, metricsUtilityTarballs, type TestDatabase } from '@tally/testkit';
import { S3Storage } from '@tally/storage-s3';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIO } from '../src/io.js';
import { runReport } from '../src/report-command.js';

let ship: string;
let raw: string;
let tdb: TestDatabase;

beforeAll(async () => {
  const { base, names } = metricsUtilityTarballs();
  ship = mkdtempSync(join(tmpdir(), 'tally-report-cmd-'));
  cpSync(join(base, 'data'), join(ship, 'data'), { recursive: true });
  raw = mkdtempSync(join(tmpdir(), 'tally-report-raw-'));
  for (const name of names.filter((n) => n.startsWith('data/2024/03/'))) {
    const dir = join(raw, name.replace(/\//g, '_'));
    execFileSync('mkdir', ['-p', dir]);
    execFileSync('tar', ['xzf', join(base, name), '-C', dir], { stdio: 'ignore' });
  }
  tdb = await createTestDatabase('reportcmd');
});
afterAll(async () => {
  rmSync(ship, { recursive: true, force: true });
  rmSync(raw, { recursive: true, force: true });
  await tdb?.drop();
});

/** Managed nodes of March per organization, straight from the CSVs (no quoting in these fixtures). */
function marchHostsByOrg(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const dir of readdirSync(raw)) {
    const [head, ...lines] = readFileSync(join(raw, dir, 'job_host_summary.csv'), 'utf8').trim().split('\n');
    const cols = head!.split(',');
    for (const line of lines) {
      const r = Object.fromEntries(line.split(',').map((v, i) => [cols[i], v]));
      const org = r.organization_name || 'No organization name';
      if (!out.has(org)) out.set(org, new Set());
      out.get(org)!.add(r.ansible_host_variable || r.host_name!);
    }
  }
  return out;
}

function io(env: Record<string, string | undefined> = {}): CliIO & { out: () => string } {
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (d) => {
    text += String(d);
  });
  return { stdout, stderr: new PassThrough(), env, cwd: ship, out: () => text };
}

const env = (extra: Record<string, string> = {}) => ({
  METRICS_UTILITY_SHIP_TARGET: 'directory',
  METRICS_UTILITY_SHIP_PATH: ship,
  METRICS_UTILITY_REPORT_TYPE: 'CCSPv2',
  METRICS_UTILITY_PRICE_PER_NODE: '12.5',
  METRICS_UTILITY_REPORT_H1_HEADING: 'Acme usage',
  METRICS_UTILITY_REPORT_PO_NUMBER: 'PO-7',
  ...extra,
});

async function sheet(path: string, name: string) {
  return (await readWorkbook(path)).getWorksheet(name)!;
}

describe('runReport', () => {
  it('builds the previous month by default from METRICS_UTILITY_* settings', async () => {
    const cli = io();
    const res = await runReport(loadConfig({ env: env() }), { now: new Date('2024-04-10T09:00:00Z'), io: cli });
    expect(res).toMatchObject({ status: 'written', exitCode: 0, name: 'reports/2024/03/CCSPv2-2024-03.xlsx' });
    expect(res.path).toBe(join(ship, 'reports/2024/03/CCSPv2-2024-03.xlsx'));
    expect(cli.out()).toContain('reports/2024/03/CCSPv2-2024-03.xlsx');
    const ws = await sheet(res.path!, 'Usage Reporting');
    const all = new Set([...marchHostsByOrg().values()].flatMap((s) => [...s]));
    expect([ws.getCell('A1').value, ws.getCell('F4').value, ws.getCell('G7').value, ws.getCell('I7').value, ws.getCell('B5').value]).toEqual([
      'Acme usage', 'PO-7', all.size, 12.5, '2024-03',
    ]);
    expect(ws.getCell('H1').value).toBe('Updated: Apr 10, 2024');
  });

  it('CCSP per organization, with a ;-separated organization filter ignored by CCSP and used by CCSPv2', async () => {
    const byOrg = marchHostsByOrg();
    const ccsp = await runReport(loadConfig({ env: env({ METRICS_UTILITY_REPORT_TYPE: 'CCSP' }) }), { month: '2024-03', force: true });
    const ws = await sheet(ccsp.path!, 'Usage Reporting');
    const orgs = [...byOrg.keys()].sort();
    orgs.forEach((org, i) => {
      expect([ws.getCell(`A${18 + i}`).value, ws.getCell(`C${18 + i}`).value]).toEqual([org, byOrg.get(org)!.size]);
    });
    expect(ws.getCell('G15').value).toBe('12.5');
    const v2 = await runReport(loadConfig({ env: env({ METRICS_UTILITY_ORGANIZATION_FILTER: 'Default;Nope' }) }), { month: '2024-03', force: true });
    expect((await sheet(v2.path!, 'Usage Reporting')).getCell('G7').value).toBe(byOrg.get('Default')!.size);
    // Split as metrics-utility splits it: no spaces trimmed, so ` Default` is no organization here.
    const spaced = await runReport(loadConfig({ env: env({ METRICS_UTILITY_ORGANIZATION_FILTER: 'Nope; Default;' }) }), { month: '2024-03', force: true });
    expect((await sheet(spaced.path!, 'Usage Reporting')).getCell('G7').value ?? 0).toBe(0);
    const exact = await runReport(loadConfig({ env: env({ METRICS_UTILITY_ORGANIZATION_FILTER: 'Nope;Default;' }) }), { month: '2024-03', force: true });
    expect((await sheet(exact.path!, 'Usage Reporting')).getCell('G7').value).toBe(byOrg.get('Default')!.size);
  });

  it('keeps an existing report unless --force', async () => {
    const cfg = loadConfig({ env: env() });
    const first = await runReport(cfg, { month: '2024-03', force: true });
    const before = statSync(first.path!).mtimeMs;
    const kept = await runReport(cfg, { month: '2024-03' });
    expect(kept.status).toBe('skipped');
    expect(statSync(first.path!).mtimeMs).toBe(before);
  });

  it('an empty month prints "No billing data" and exits 0 without a file', async () => {
    const cli = io();
    const res = await runReport(loadConfig({ env: env() }), { month: '2023-07', io: cli });
    expect(res).toMatchObject({ status: 'empty', exitCode: 0 });
    expect(cli.out()).toContain('No billing data for month 2023-07\n');
    expect(existsSync(join(ship, 'reports/2023/07'))).toBe(false);
  });

  it('a --since/--until range lands in the until month', async () => {
    const res = await runReport(loadConfig({ env: env({ METRICS_UTILITY_REPORT_TYPE: 'CCSP' }) }), { since: '2024-02-27', until: '2024-03-02', force: true });
    expect(res.name).toBe('reports/2024/03/CCSP-2024-02-27--2024-03-02.xlsx');
    expect((await sheet(res.path!, 'Usage Reporting')).getCell('B5').value).toBe('2024-02-27, 2024-03-02');
  });

  it('reports configuration mistakes as ConfigErrors (exit code 2)', async () => {
    const bad = async (e: Record<string, string>, o: Parameters<typeof runReport>[1] = {}) => {
      const err = await runReport(loadConfig({ env: e }), o).catch((x: unknown) => x);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).exitCode).toBe(2);
      return (err as Error).message;
    };
    expect(await bad(env(), { month: '2024-03', since: '2024-03-01' })).toContain('--month');
    expect(await bad(env(), { month: '2024-13' })).toContain('YYYY-MM');
    expect(await bad(env(), { ephemeral: '3d' })).toContain('--ephemeral');
    expect(await bad(env({ METRICS_UTILITY_REPORT_TYPE: 'RENEWAL_GUIDANCE' }), { since: '2024-01-01' })).toContain('controller_db');
    expect(await bad(env({ METRICS_UTILITY_REPORT_TYPE: 'RENEWAL_GUIDANCE', METRICS_UTILITY_SHIP_TARGET: 'controller_db' }), { since: '2024-01-01', ephemeral: '3x', db: tdb.url })).toContain('ephemeral');
    expect(await bad(env({ METRICS_UTILITY_REPORT_TYPE: 'RENEWAL_GUIDANCE', METRICS_UTILITY_SHIP_TARGET: 'controller_db' }), {})).toContain('--since');
    // a deduplicator that does not fit the report type, refused before anything is read
    expect(await bad(env({ METRICS_UTILITY_DEDUPLICATOR: 'renewal-hostname' }), { month: '2024-03' })).toBe('renewal-hostname only supports RENEWAL_GUIDANCE, got: CCSPv2');
    expect(await bad(env({ METRICS_UTILITY_DEDUPLICATOR: 'nope' }), { month: '2024-03' })).toBe('Factory for nope not supported');
    const renewal = env({ METRICS_UTILITY_REPORT_TYPE: 'RENEWAL_GUIDANCE', METRICS_UTILITY_SHIP_TARGET: 'controller_db', METRICS_UTILITY_DEDUPLICATOR: 'ccsp-experimental' });
    expect(await bad(renewal, { since: '2024-01-01', db: tdb.url })).toBe('Unknown report type: RENEWAL_GUIDANCE');
  });

  it('RENEWAL_GUIDANCE reads the controller database given by --db', async () => {
    const c = await tdb.client();
    await c.query(`CREATE TABLE main_host (id serial PRIMARY KEY, name text NOT NULL, variables text, ansible_facts jsonb DEFAULT '{}')`);
    await c.query(`CREATE TABLE main_hostmetric (id serial PRIMARY KEY, hostname text UNIQUE, first_automation timestamptz, last_automation timestamptz,
      last_deleted timestamptz, automated_counter bigint DEFAULT 0, deleted_counter bigint DEFAULT 0, deleted boolean DEFAULT false)`);
    await c.query(`INSERT INTO main_host (name, ansible_facts) VALUES ('x1', '{"ansible_machine_id": "m"}'), ('x2', '{"ansible_machine_id": "m"}'), ('y', '{}')`);
    await c.query(`INSERT INTO main_hostmetric (hostname, first_automation, last_automation, automated_counter) VALUES
      ('x1', '2024-05-01', '2024-05-02', 1), ('x2', '2024-05-03', '2024-05-19', 4), ('y', '2024-05-10', '2024-05-11', 2)`);
    const res = await runReport(loadConfig({ env: env({ METRICS_UTILITY_REPORT_TYPE: 'RENEWAL_GUIDANCE', METRICS_UTILITY_SHIP_TARGET: 'controller_db' }) }), {
      since: '2024-05-01', db: tdb.url, ephemeral: '2d', now: new Date('2024-05-20T08:00:00Z'),
    });
    expect(res.name).toBe('reports/2024/05/RENEWAL_GUIDANCE-2024-05-01--2024-05-20.xlsx');
    const ws = await sheet(res.path!, 'Usage Reporting');
    // x1+x2 share a machine id (18 days: not ephemeral); y lasted 1 day and started before 05-19
    expect([4, 5, 6, 7].map((r) => ws.getCell(`B${r}`).value)).toEqual([1, 1, 1, 0]);
    expect((await sheet(res.path!, 'Managed nodes')).getCell('A2').value).toBe('x2');
    // renewal-hostname merges by ansible_host or host name only: x1 and x2 stay apart
    const byName = await runReport(
      loadConfig({ env: env({ METRICS_UTILITY_REPORT_TYPE: 'RENEWAL_GUIDANCE', METRICS_UTILITY_SHIP_TARGET: 'controller_db', METRICS_UTILITY_DEDUPLICATOR: 'renewal-hostname' }) }),
      { since: '2024-05-01', db: tdb.url, force: true, now: new Date('2024-05-20T08:00:00Z') },
    );
    expect((await sheet(byName.path!, 'Usage Reporting')).getCell('B4').value).toBe(3);
  });

  it('reads tarballs uploaded under the reference layout {ship_path}/data/… from S3 and writes {ship_path}/reports/… (s3rver on 127.0.0.1)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-report-s3-'));
    const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: 'billing', configs: [] }] });
    const { port } = await server.run();
    const shipPath = 'metrics-utility/shipped_data/billing';
    try {
      const s3env = env({
        METRICS_UTILITY_SHIP_TARGET: 's3',
        METRICS_UTILITY_SHIP_PATH: shipPath,
        METRICS_UTILITY_BUCKET_NAME: 'billing',
        METRICS_UTILITY_BUCKET_ENDPOINT: `http://127.0.0.1:${port}`,
        METRICS_UTILITY_BUCKET_REGION: 'us-east-1',
        METRICS_UTILITY_BUCKET_ACCESS_KEY: 'S3RVER',
        METRICS_UTILITY_BUCKET_SECRET_KEY: 'S3RVER',
      });
      // The bucket seen from its root: keys exactly as metrics-utility's package_s3.py writes them.
      const bucket = new S3Storage({ bucket: 'billing', endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', accessKey: 'S3RVER', secretKey: 'S3RVER' });
      const { base, names } = metricsUtilityTarballs();
      for (const name of names.filter((n) => n.startsWith('data/2024/03/'))) await bucket.put(`${shipPath}/${name}`, { filename: join(base, name) });
      // A (broken) tarball at the bucket root is outside this ship path: read, it would be named in failures.
      await bucket.put('data/2024/03/31/stray-2024-03-31-000000+0000-2024-04-01-000000+0000-0.tar.gz', { buffer: 'not a tarball' });
      const res = await runReport(loadConfig({ env: s3env }), { month: '2024-03' });
      expect(res).toMatchObject({ status: 'written', name: 'reports/2024/03/CCSPv2-2024-03.xlsx', failures: [] });
      expect(res.path).toBeUndefined();
      expect(await bucket.glob('reports/**')).toEqual([]);
      expect(await bucket.glob(`${shipPath}/reports/**`)).toEqual([`${shipPath}/reports/2024/03/CCSPv2-2024-03.inputs.json`, `${shipPath}/reports/2024/03/CCSPv2-2024-03.xlsx`]);
      await using local = await bucket.get(`${shipPath}/${res.name}`);
      const all = new Set([...marchHostsByOrg().values()].flatMap((x) => [...x]));
      expect((await sheet(local.path, 'Usage Reporting')).getCell('G7').value).toBe(all.size);
      expect((await runReport(loadConfig({ env: s3env }), { month: '2024-03' })).status).toBe('skipped');
      await bucket.close?.();
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
