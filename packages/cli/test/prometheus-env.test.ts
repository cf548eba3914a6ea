import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVICE_ACCOUNT_DIR } from '@tally/collectors';
import { createTestDatabase, type TestDatabase } from '@tally/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyControllerSchema } from '@tally/demo';
import { runCli } from './run-cli.js';

let tdb: TestDatabase;
let db: pg.Client;
let dir: string;
let server: Server;
let promUrl: string;
const seenAuth: (string | undefined)[] = [];

/** A Prometheus on loopback HTTPS, its certificate signed by a CA of the test's own. */
beforeAll(async () => {
  tdb = await createTestDatabase('cli_prometheus_env');
  db = await tdb.client();
  await applyControllerSchema(db);
  await db.query(`INSERT INTO conf_setting (created, modified, key, value) VALUES (now(), now(), 'INSTALL_UUID', '"00000000-0000-4000-8000-000000000001"')`);
  dir = mkdtempSync(join(tmpdir(), 'tally-prom-env-'));
  const p = (f: string) => join(dir, f);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', '/CN=Test CA');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('srv.key'), '-out', p('srv.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  ssl('x509', '-req', '-in', p('srv.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('srv.pem'), '-days', '2', '-extfile', p('ext.cnf'));
  server = createServer({ key: readFileSync(p('srv.key')), cert: readFileSync(p('srv.pem')) }, (req, res) => {
    seenAuth.push(req.headers.authorization);
    const range = (req.url ?? '').startsWith('/api/v1/query_range');
    const result = range ? [{ metric: {}, values: [[1, '6']] }] : [{ metric: {}, value: [1, '6.5'] }];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'success', data: { resultType: range ? 'matrix' : 'vector', result } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  promUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await tdb?.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** `tally gather --dry-run` of total_workers_vcpu alone with these Prometheus variables. */
async function gatherVcpu(vars: Record<string, string>) {
  seenAuth.length = 0;
  const env = {
    DATABASE_URL: tdb.url,
    METRICS_UTILITY_CLUSTER_NAME: 'c1',
    METRICS_UTILITY_USAGE_BASED_METERING_ENABLED: 'true',
    METRICS_UTILITY_PROMETHEUS_URL: promUrl,
    METRICS_UTILITY_PROMETHEUS_TOKEN: 'tok-from-env',
    ...vars,
  };
  const r = await runCli(['gather', '--dry-run', '--collectors', 'total_workers_vcpu'], env, dir);
  const tarball = r.stdout.split('\n').find((l) => l.endsWith('.tar.gz'));
  // A failed collector still leaves a tarball with its status row, without the member.
  const json = tarball && r.code === 0 ? execFileSync('tar', ['-xzOf', tarball, './total_workers_vcpu.json']).toString() : undefined;
  // The dry run's own directory: tally-dry-run-*/data/YYYY/MM/DD/{tarball}.
  if (tarball) rmSync(join(tarball, '..', '..', '..', '..', '..'), { recursive: true, force: true });
  return { ...r, json };
}

describe('tally gather: total_workers_vcpu reads the Prometheus variables under metrics-utility names', () => {
  const CERT = 'METRICS_UTILITY_PROMETHEUS_CA_CERT_PATH';
  const OLD = 'METRICS_UTILITY_PROMETHEUS_CA_PATH';

  it('METRICS_UTILITY_PROMETHEUS_CA_CERT_PATH verifies the server; the URL and token are used as given', async () => {
    const r = await gatherVcpu({ [CERT]: join(dir, 'ca.pem') });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.json!)).toMatchObject({ cluster_name: 'c1', total_workers_vcpu: 6 });
    expect(seenAuth).toEqual(['Bearer tok-from-env', 'Bearer tok-from-env']);
    expect(r.stderr).not.toContain('tok-from-env');
  });

  it("Tally's first name, METRICS_UTILITY_PROMETHEUS_CA_PATH, still works; with both set metrics-utility's name wins", async () => {
    const old = await gatherVcpu({ [OLD]: join(dir, 'ca.pem') });
    expect(old.code, old.stderr).toBe(0);
    const both = await gatherVcpu({ [CERT]: join(dir, 'ca.pem'), [OLD]: join(dir, 'missing.pem') });
    expect(both.code, both.stderr).toBe(0);
    const wrongWins = await gatherVcpu({ [CERT]: join(dir, 'missing.pem'), [OLD]: join(dir, 'ca.pem') });
    expect(wrongWins.code).toBe(1);
    expect(wrongWins.stderr).toMatch(/CA certificate .*missing\.pem/);
  });

  // Outside a pod there is no service account CA, so the system store is used and refuses the test CA.
  it.skipIf(existsSync(SERVICE_ACCOUNT_DIR))('an empty CA path keeps TLS verification on (metrics-utility turns it off) and says so', async () => {
    const r = await gatherVcpu({ [CERT]: '', [OLD]: join(dir, 'ca.pem') });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the CA path is empty; TLS verification stays on');
    expect(r.stderr).toMatch(/unreachable/);
    expect(seenAuth).toEqual([]);
  });
});
