import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SERVICE_ACCOUNT_DIR, totalWorkersVcpu } from '@tally/collectors';
import { previousHour } from '../src/prometheus.js';
import { type Logger, tempdir, type TempDir } from '@tally/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

type Mode = 'ok' | 'empty' | 'http500' | 'apierror';
let mode: Mode = 'ok';
const seen: { path: string; query: URLSearchParams; auth: string | undefined }[] = [];

function handler(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  seen.push({ path: url.pathname, query: url.searchParams, auth: req.headers.authorization });
  const send = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  if (mode === 'http500') send(500, 'boom: storage unavailable');
  else if (mode === 'apierror') send(200, { status: 'error', errorType: 'bad_data', error: 'parse error at char 3' });
  else if (url.pathname === '/api/v1/query') {
    const result = mode === 'empty' ? [] : [{ metric: {}, value: [1705327199, '12.75'] }];
    send(200, { status: 'success', data: { resultType: 'vector', result } });
  } else if (url.pathname === '/api/v1/query_range') {
    const result = mode === 'empty' ? [] : [{ metric: {}, values: [[1705323900, '12'], [1705323600, '10.5']] }];
    send(200, { status: 'success', data: { resultType: 'matrix', result } });
  } else send(404, 'not found');
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (msg: string, fields?: Record<string, unknown>) => lines.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`);
  const logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger } as Logger;
  return { logger, lines };
}

let http: Server;
let https: Server;
let httpUrl: string;
let httpsUrl: string;
let certs: TempDir;
const NOW = new Date('2024-01-15T14:30:45Z');
const TOKEN = 'sekret-bearer-token-value';
const SA_TOKEN = 'service-account-token-value';
/** A service account directory with no files, so a pod's real one is never read by these tests. */
let noSa: string;

beforeAll(async () => {
  certs = await tempdir('prom-tls');
  const p = (f: string) => join(certs.path, f);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', '/CN=Test CA');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('srv.key'), '-out', p('srv.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('x509', '-req', '-in', p('srv.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('srv.pem'), '-days', '2', '-extfile', p('ext.cnf'));
  http = createHttp(handler);
  https = createHttps({ key: readFileSync(p('srv.key')), cert: readFileSync(p('srv.pem')) }, handler);
  noSa = p('no-sa');
  mkdirSync(noSa);
  httpUrl = `http://${await listen(http)}/`;
  httpsUrl = `https://${await listen(https)}`;
});
afterAll(async () => {
  await new Promise((r) => http?.close(r));
  await new Promise((r) => https?.close(r));
  await certs?.remove();
});
beforeEach(() => {
  mode = 'ok';
  seen.length = 0;
});

describe('total_workers_vcpu', () => {
  it('measures the previous full hour', () => {
    expect(previousHour(NOW)).toEqual({ start: 1705323600, end: 1705327199.999 });
    expect(previousHour(new Date('2024-01-15T10:00:00Z'))).toEqual({
      start: Date.parse('2024-01-15T09:00:00Z') / 1000,
      end: Date.parse('2024-01-15T09:59:59.999Z') / 1000,
    });
  });

  it('asks Prometheus for the maximum over the previous hour, evaluated at its last millisecond, with the bearer token', async () => {
    const { logger, lines } = capture();
    const r = await totalWorkersVcpu({ clusterName: 'c1', meteringEnabled: true, prometheusUrl: httpUrl, token: TOKEN, now: NOW, logger, serviceAccountDir: noSa }).gather();
    // The newest reference's tarball member: three keys, the hour's end with milliseconds and Z.
    expect(r).toEqual({ format: 'json', data: { timestamp: '2024-01-15T13:59:59.999Z', cluster_name: 'c1', total_workers_vcpu: 12 } });
    expect(r.format === 'json' && Object.keys(r.data!)).toEqual(['timestamp', 'cluster_name', 'total_workers_vcpu']);
    expect(seen.map((s) => s.path)).toEqual(['/api/v1/query', '/api/v1/query_range']);
    expect(seen[0]!.query.get('query')).toBe('max_over_time(sum(machine_cpu_cores)[59m59s999ms:5m] @ 1705327199.999)');
    expect(Object.fromEntries(seen[1]!.query)).toEqual({ query: 'sum(machine_cpu_cores)', start: '1705323600.0', end: '1705327199.999', step: '5m' });
    expect(seen.every((s) => s.auth === `Bearer ${TOKEN}`)).toBe(true);
    // The whole info dict is logged, in the newest reference's key order and formats.
    expect(lines.filter((l) => l.startsWith('info'))).toEqual([
      'info total_workers_vcpu ' +
        JSON.stringify({
          cluster_name: 'c1',
          collection_timestamp: '2024-01-15T14:30:45.000Z',
          start_timestamp: '2024-01-15T13:00:00.000Z',
          end_timestamp: '2024-01-15T13:59:59.999Z',
          usage_based_billing_enabled: true,
          promql_query: 'max_over_time(sum(machine_cpu_cores)[59m59s999ms:5m] @ 1705327199.999)',
          timeline: [
            { timestamp: '2024-01-15T13:00:00.000Z', cpu_sum: 10.5 },
            { timestamp: '2024-01-15T13:05:00.000Z', cpu_sum: 12 },
          ],
          total_workers_vcpu: 12,
        }),
    ]);
    expect(lines.join('\n')).not.toContain(TOKEN);
  });

  it('reports 1 without calling Prometheus or reading the service account when metering is disabled', async () => {
    const { logger, lines } = capture();
    const sa = join(certs.path, 'sa-disabled');
    mkdirSync(sa);
    writeFileSync(join(sa, 'token'), '');
    const r = await totalWorkersVcpu({ clusterName: 'c1', prometheusUrl: httpUrl, now: NOW, logger, serviceAccountDir: sa }).gather();
    expect(r).toEqual({ format: 'json', data: { timestamp: '2024-01-15T13:59:59.999Z', cluster_name: 'c1', total_workers_vcpu: 1 } });
    expect(seen).toEqual([]);
    expect(lines.map((l) => JSON.parse(l.slice(l.indexOf('{'))))).toEqual([
      {
        cluster_name: 'c1',
        collection_timestamp: '2024-01-15T14:30:45.000Z',
        start_timestamp: '2024-01-15T13:00:00.000Z',
        end_timestamp: '2024-01-15T13:59:59.999Z',
        usage_based_billing_enabled: false,
        total_workers_vcpu: 1,
      },
    ]);
  });

  it('reads the token and CA from the service account when none is given, and only when the files exist', async () => {
    const sa = join(certs.path, 'sa');
    mkdirSync(sa);
    writeFileSync(join(sa, 'token'), `${SA_TOKEN}\n`);
    copyFileSync(join(certs.path, 'ca.pem'), join(sa, 'service-ca.crt'));
    const { logger, lines } = capture();
    const params = { clusterName: 'c1', meteringEnabled: true, prometheusUrl: httpsUrl, now: NOW, logger };
    const r = await totalWorkersVcpu({ ...params, serviceAccountDir: sa }).gather();
    expect(r.format === 'json' && r.data?.total_workers_vcpu).toBe(12);
    expect(seen.map((s) => s.auth)).toEqual([`Bearer ${SA_TOKEN}`, `Bearer ${SA_TOKEN}`]);
    expect(lines.join('\n')).not.toContain(SA_TOKEN);
    // A given token wins over the file.
    seen.length = 0;
    await totalWorkersVcpu({ ...params, serviceAccountDir: sa, token: TOKEN }).gather();
    expect(seen.map((s) => s.auth)).toEqual([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]);
    // No files: no token, and the system store, which does not know the test CA.
    seen.length = 0;
    await expect(totalWorkersVcpu({ ...params, serviceAccountDir: noSa }).gather()).rejects.toThrow(/unreachable/);
    await totalWorkersVcpu({ ...params, prometheusUrl: httpUrl, serviceAccountDir: noSa }).gather();
    expect(seen.map((s) => s.auth)).toEqual([undefined, undefined]);
    // A token file that exists but holds only whitespace is refused.
    writeFileSync(join(sa, 'token'), ' \n\t');
    await expect(totalWorkersVcpu({ ...params, serviceAccountDir: sa }).gather()).rejects.toThrow(/total_workers_vcpu: service account token .*sa\/token is empty/);
    expect(SERVICE_ACCOUNT_DIR).toBe('/var/run/secrets/kubernetes.io/serviceaccount');
  });

  it('returns data null and warns when Prometheus has no samples', async () => {
    mode = 'empty';
    const { logger, lines } = capture();
    const r = await totalWorkersVcpu({ clusterName: 'c1', meteringEnabled: true, prometheusUrl: httpUrl, now: NOW, logger, serviceAccountDir: noSa }).gather();
    expect(r).toEqual({ format: 'json', data: null });
    expect(lines.filter((l) => l.startsWith('warn'))).toHaveLength(1);
  });

  it('fails with the HTTP status and body, or the API error', async () => {
    mode = 'http500';
    const params = { clusterName: 'c1', meteringEnabled: true, prometheusUrl: httpUrl, now: NOW, serviceAccountDir: noSa };
    await expect(totalWorkersVcpu(params).gather()).rejects.toThrow(/total_workers_vcpu: .*HTTP error 500: boom: storage unavailable/);
    mode = 'apierror';
    await expect(totalWorkersVcpu(params).gather()).rejects.toThrow(/Prometheus API error: parse error at char 3/);
  });

  it('verifies TLS against the given CA, and refuses an unknown CA by default', async () => {
    const params = { clusterName: 'c1', meteringEnabled: true, prometheusUrl: httpsUrl, now: NOW, token: TOKEN, serviceAccountDir: noSa };
    const r = await totalWorkersVcpu({ ...params, caCertPath: join(certs.path, 'ca.pem') }).gather();
    expect(r.format === 'json' && r.data?.total_workers_vcpu).toBe(12);
    await expect(totalWorkersVcpu(params).gather()).rejects.toThrow(/unreachable/);
    await expect(totalWorkersVcpu({ ...params, caCertPath: join(certs.path, 'missing.pem') }).gather()).rejects.toThrow(/CA certificate .*missing\.pem/);
  });

  it('keeps TLS verification on for an empty CA path (metrics-utility skips it): the service account CA, else the system store, and a warning', async () => {
    const sa = join(certs.path, 'sa-empty-ca');
    mkdirSync(sa);
    copyFileSync(join(certs.path, 'ca.pem'), join(sa, 'service-ca.crt'));
    const { logger, lines } = capture();
    const params = { clusterName: 'c1', meteringEnabled: true, prometheusUrl: httpsUrl, now: NOW, token: TOKEN, caCertPath: '', logger };
    // With the service account's CA: verified against it.
    const r = await totalWorkersVcpu({ ...params, serviceAccountDir: sa }).gather();
    expect(r.format === 'json' && r.data?.total_workers_vcpu).toBe(12);
    // Without it: the system store, which does not know the test CA, so the self-signed chain is refused, never accepted unverified.
    seen.length = 0;
    await expect(totalWorkersVcpu({ ...params, serviceAccountDir: noSa }).gather()).rejects.toThrow(/unreachable/);
    expect(seen).toEqual([]);
    expect(lines.filter((l) => l.startsWith('warn'))).toEqual([
      expect.stringContaining('the CA path is empty; TLS verification stays on'),
      expect.stringContaining('the CA path is empty; TLS verification stays on'),
    ]);
    // Plain http needs no CA: an empty CA path changes nothing there.
    const h = await totalWorkersVcpu({ ...params, prometheusUrl: httpUrl, serviceAccountDir: noSa }).gather();
    expect(h.format === 'json' && h.data?.total_workers_vcpu).toBe(12);
  });

  it('validates its parameters when called', () => {
    expect(() => totalWorkersVcpu({})).toThrow(/total_workers_vcpu: param "clusterName" is required/);
    expect(() => totalWorkersVcpu({ clusterName: 'c', prometheusUrl: 'not a url' })).toThrow(/prometheusUrl/);
    expect(() => totalWorkersVcpu({ clusterName: 'c', prometheusUrl: 'ftp://x' })).toThrow(/http\(s\)/);
  });
});
