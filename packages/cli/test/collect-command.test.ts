import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createTestDatabase, DataSetReceiver, type TestDatabase } from '@tally/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCollect } from '../src/collect-command.js';
import { runCli } from './run-cli.js';

const TOKEN = 'collect-token-5e1d2b';
let rx: DataSetReceiver;
let dir: string;
let tdb: TestDatabase;
let prom: Server;
let promUrl: string;
const promSeen: URLSearchParams[] = [];

const cli = (argv: string[], env: Record<string, string | undefined> = {}) => runCli(argv, { TALLY_LOG_LEVEL: 'warn', ...env });

const write = (name: string, value: unknown) => {
  const p = join(dir, name);
  writeFileSync(p, typeof value === 'string' ? value : JSON.stringify(value));
  return p;
};

const MAIN_MJS = `
export async function* main({ credentials, dataSet, query, options, since, until, store }) {
  for (let i = 1; i <= query.count; i++) {
    yield { n: i, group: dataSet['data-group'], since: since?.toISOString() ?? null, secretSeen: credentials.apiKey === 'k-123456789' };
  }
  if (until) store({ updatedUntil: until, complete: true });
}
`;

beforeAll(async () => {
  rx = await new DataSetReceiver(TOKEN).start();
  dir = mkdtempSync(join(tmpdir(), 'tally-collect-'));
  write('my-collector.mjs', MAIN_MJS);
  // A package in a node_modules folder, made with defineCollector from an installed @tally/collectors.
  const pkg = join(dir, 'node_modules', 'acme-tally-collector');
  mkdirSync(join(pkg, 'lib'), { recursive: true });
  mkdirSync(join(dir, 'node_modules', '@tally'), { recursive: true });
  symlinkSync(resolve('packages/collectors'), join(dir, 'node_modules', '@tally', 'collectors'));
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'acme-tally-collector', type: 'module', exports: { '.': { import: './lib/index.mjs' } } }));
  writeFileSync(
    join(pkg, 'lib', 'index.mjs'),
    `import { defineCollector } from '@tally/collectors';
export default defineCollector(
  { key: 'acme_hosts', version: '1.0', format: 'json', description: 'hosts from acme' },
  {
    validate(p) { if (!(p.until instanceof Date)) throw new Error('acme_hosts: until is required'); return { until: p.until, hosts: p.query.hosts }; },
    async run(v, p) {
      p.store({ updatedUntil: new Date(v.until.getTime() - 60000), complete: false });
      return { format: 'json', data: v.hosts.map((h) => ({ host: h, at: v.until.toISOString() })) };
    },
  },
);
`,
  );
  write('target.json', { url: `${rx.url}/data` });
  write('token.json', { token: TOKEN });
  write('bad-token.json', { token: 'not-the-token' });
  write('creds.json', { apiKey: 'k-123456789' });
  tdb = await createTestDatabase('cli_collect');
  const db = await tdb.client();
  await db.query(`CREATE TABLE events (id int PRIMARY KEY, host text, modified timestamptz NOT NULL)`);
  await db.query(`INSERT INTO events SELECT g, 'host-' || g, timestamptz '2024-03-01T00:00:00Z' + g * interval '1 hour' FROM generate_series(1, 48) g`);
  await db.query('CREATE SEQUENCE bump');
  prom = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    promSeen.push(u.searchParams);
    if (u.pathname !== '/api/v1/query_range' || req.headers.authorization !== 'Bearer prom-token-xyz') {
      res.writeHead(401).end('no');
      return;
    }
    const start = Number(u.searchParams.get('start'));
    const end = Number(u.searchParams.get('end'));
    const step = Number(u.searchParams.get('step'));
    const values: [number, string][] = [];
    for (let t = start; t <= end; t += step) values.push([t, String(t % 7 === 0 ? 'NaN' : 2)]);
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric: { __name__: 'up', job: 'awx' }, values }] } }),
    );
  });
  await new Promise<void>((r) => prom.listen(0, '127.0.0.1', r));
  promUrl = `http://127.0.0.1:${(prom.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await rx?.stop();
  await new Promise((r) => prom?.close(r));
  await tdb?.drop();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => rx.reset());

describe('tally collect', () => {
  it('runs a user collector .mjs by path; retries 500, 429 and a dropped connection; every record arrives once with its additional fields', async () => {
    const query = write('q-path.json', {
      entrypoint: './my-collector.mjs',
      query: { count: 7 },
      options: { additionalFields: { dataType: 'jobs', source: 'tally' }, 'chunk-size': 3 },
      'data-set': { 'data-group': 'automation', 'data-set': 'jobs' },
    });
    rx.faults = [{ status: 500 }, 'accept', { status: 429, retryAfter: '0' }, 'drop', 'accept'];
    const out = await runCollect({
      files: { query, target: join(dir, 'target.json'), credentials: join(dir, 'creds.json'), token: join(dir, 'token.json') },
      since: new Date('2024-03-01T00:00:00Z'),
      until: new Date('2024-03-02T00:00:00Z'),
      retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 },
    });
    expect(out).toMatchObject({ records: 7, chunks: 3, progress: { complete: true } });
    expect(out.progress!.updatedUntil.toISOString()).toBe('2024-03-02T00:00:00.000Z');
    expect(rx.log.map((l) => l.split(' → ')[1])).toEqual(['500', '200', '429', 'drop', '200', '200']);
    expect(rx.chunks.map((c) => c.path)).toEqual(Array(3).fill('/data/automation/jobs'));
    expect(rx.records).toEqual(
      Array.from({ length: 7 }, (_, i) => ({ dataType: 'jobs', source: 'tally', n: i + 1, group: 'automation', since: '2024-03-01T00:00:00.000Z', secretSeen: true })),
    );
  });

  it('loads a defineCollector collector by package name from node_modules, through the command line', async () => {
    const query = write('q-pkg.json', {
      entrypoint: 'acme-tally-collector',
      query: { hosts: ['a', 'b', 'c'] },
      options: { additionalFields: { site: 'lab' } },
      'data-set': { 'data-group': 'automation', 'data-set': 'hosts' },
    });
    const r = await cli(['collect', '--query', query, '--target', join(dir, 'target.json'), '--token', join(dir, 'token.json'), '--until', '2024-03-02T00:00:00Z']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^sent 3 record\(s\) in 1 chunk\(s\) \(\d+ bytes\) to http:\/\/127\.0\.0\.1:\d+\/data\/automation\/hosts; collector reports data partial up to 2024-03-01T23:59:00\.000Z\n$/);
    expect(rx.records).toEqual(['a', 'b', 'c'].map((host) => ({ site: 'lab', host, at: '2024-03-02T00:00:00.000Z' })));
  });

  it('a 401 ends the run with a clear error naming the chunk, exit 1, and never shows the token', async () => {
    const query = write('q-401.json', { entrypoint: './my-collector.mjs', query: { count: 2 }, 'data-set': { 'data-group': 'g', 'data-set': 's' } });
    const r = await cli(['collect', '--query', query, '--target', join(dir, 'target.json'), '--token', join(dir, 'bad-token.json'), '--credentials', join(dir, 'creds.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^tally: storage data-set: chunk 1 \(records 1–2\): POST http:\/\/127\.0\.0\.1:\d+\/data\/g\/s answered 401 Unauthorized: .*; sent before it: 0 chunk\(s\), 0 record\(s\)/);
    expect(r.stderr + r.stdout).not.toContain('not-the-token');
    expect(rx.chunks).toEqual([]);
  });

  it('--dry-run prints each request with the token masked and sends nothing', async () => {
    const query = write('q-dry.json', { entrypoint: './my-collector.mjs', query: { count: 3 }, options: { 'chunk-size': 2 }, 'data-set': { 'data-group': 'g', 'data-set': 's' } });
    const r = await cli(['collect', '--query', query, '--target', join(dir, 'target.json'), '--token', join(dir, 'token.json'), '--credentials', join(dir, 'creds.json'), '--dry-run']);
    expect(r.code).toBe(0);
    expect(rx.log).toEqual([]);
    expect(r.stdout.match(/^POST http:\/\/127\.0\.0\.1:\d+\/data\/g\/s$/gm)).toHaveLength(2);
    expect(r.stdout).toContain('authorization: Bearer ****');
    expect(r.stdout).toContain('"n":3');
    expect(r.stdout).not.toContain(TOKEN);
    expect(r.stdout).toMatch(/would send 3 record\(s\) in 2 chunk\(s\)/);
  });

  it('refuses bad files with exit 2 naming the file and field', async () => {
    const bad = write('q-bad.json', { entrypoint: './my-collector.mjs', 'data-set': { 'data-group': 'g' } });
    const r = await cli(['collect', '--query', bad, '--target', join(dir, 'target.json'), '--token', join(dir, 'token.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`tally: query file ${bad}: data-set.data-set is required\n`);
    const missing = write('q-missing.json', { entrypoint: 'no-such-collector-pkg', 'data-set': { 'data-group': 'g', 'data-set': 's' } });
    const m = await cli(['collect', '--query', missing, '--target', join(dir, 'target.json'), '--token', join(dir, 'token.json')]);
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/entrypoint "no-such-collector-pkg": package no-such-collector-pkg is not installed in a node_modules folder/);
    const tok = write('tok-bad.json', '{"token": "abc def-secret-value"');
    const t = await cli(['collect', '--query', missing, '--target', join(dir, 'target.json'), '--token', tok]);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/token file .* is not valid JSON/);
    expect(t.stderr).not.toContain('def-secret-value');
  });
});

describe('built-in entrypoints', () => {
  it('tally:sql streams the window [since, until) with bound parameters in a read-only transaction', async () => {
    write('db.json', { url: tdb.url });
    const query = write('q-sql.json', {
      entrypoint: 'tally:sql',
      // '$3' in a string and a comment is text, not a parameter.
      query: "SELECT id, host, modified, modified::date AS day, (modified AT TIME ZONE 'UTC') AS local, '$3' AS note FROM events WHERE modified >= $1 AND modified < $2 -- $9\nORDER BY id;",
      options: { fetchSize: 4, additionalFields: { source: 'awx' } },
      'data-set': { 'data-group': 'automation', 'data-set': 'events' },
    });
    const files = { query, target: join(dir, 'target.json'), credentials: join(dir, 'db.json'), token: join(dir, 'token.json') };
    const out = await runCollect({ files, since: new Date('2024-03-01T10:00:00Z'), until: new Date('2024-03-02T00:00:00Z') });
    expect(out).toMatchObject({ records: 14, chunks: 1 });
    expect(rx.records.map((r) => r.id)).toEqual(Array.from({ length: 14 }, (_, i) => i + 10));
    expect(rx.records[0]).toEqual({ source: 'awx', id: 10, host: 'host-10', modified: '2024-03-01T10:00:00.000Z', day: '2024-03-01', local: '2024-03-01 10:00:00', note: '$3' });

    const writes = write('q-sql-write.json', { entrypoint: 'tally:sql', query: "SELECT nextval('bump')", 'data-set': { 'data-group': 'g', 'data-set': 's' } });
    await expect(runCollect({ files: { ...files, query: writes } })).rejects.toThrow(/tally:sql: query failed: cannot execute nextval\(\) in a read-only transaction/);
    const noSince = write('q-sql-nosince.json', { entrypoint: 'tally:sql', query: 'SELECT 1 WHERE now() > $1', 'data-set': { 'data-group': 'g', 'data-set': 's' } });
    await expect(runCollect({ files: { ...files, query: noSince } })).rejects.toThrow(/query uses \$1 \(since\) but no since was given/);
    const injection = write('q-sql-multi.json', { entrypoint: 'tally:sql', query: 'SELECT 1; DROP TABLE events', 'data-set': { 'data-group': 'g', 'data-set': 's' } });
    await expect(runCollect({ files: { ...files, query: injection } })).rejects.toThrow(/query failed/);
    const db = await tdb.client();
    expect((await db.query('SELECT count(*)::int AS n FROM events')).rows[0].n).toBe(48);
  });

  it('tally:prometheus runs a range query over [since, until) against a Prometheus API', async () => {
    write('prom.json', { url: promUrl, token: 'prom-token-xyz' });
    const query = write('q-prom.json', {
      entrypoint: 'tally:prometheus',
      query: { promql: 'up{job="awx"}', step: '15m' },
      'data-set': { 'data-group': 'automation', 'data-set': 'up' },
    });
    promSeen.length = 0;
    const out = await runCollect({
      files: { query, target: join(dir, 'target.json'), credentials: join(dir, 'prom.json'), token: join(dir, 'token.json') },
      since: new Date('2024-03-01T00:00:00Z'),
      until: new Date('2024-03-01T01:00:00Z'),
    });
    expect(out.records).toBe(4);
    expect(promSeen.map((q) => Object.fromEntries(q))).toEqual([{ query: 'up{job="awx"}', start: '1709251200.000', end: '1709254799.999', step: '900.000' }]);
    expect(rx.records.map((r) => r._timestamp)).toEqual(['2024-03-01T00:00:00.000Z', '2024-03-01T00:15:00.000Z', '2024-03-01T00:30:00.000Z', '2024-03-01T00:45:00.000Z']);
    expect(rx.records[0]).toEqual({ _timestamp: '2024-03-01T00:00:00.000Z', value: 2, metric: { __name__: 'up', job: 'awx' } });
  });
});
