import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, DataSetReceiver, type TestDatabase } from '@tally/testkit';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyControllerSchema, seedController } from '@tally/demo';
import { startTally } from './support/run-tally.ts';

// A user collector (.mjs in a temp folder) scheduled beside a built-in it depends on,
// pushing to a local data set, watched through the status API as a real process.
let tdb: TestDatabase;
let db: pg.Client;
let dir: string;
let rx: DataSetReceiver;
const DATA_TOKEN = 'feed-data-set-token-31';
const STATUS_TOKEN = 'status-api-token-8842';

beforeAll(async () => {
  tdb = await createTestDatabase('collect_sched');
  db = await tdb.client();
  await applyControllerSchema(db);
  await seedController(db, { days: 2, jobsPerDay: 3, hosts: 10, orgs: 1, seed: 3, end: new Date('2024-03-11T00:00:00Z'), hostsPerJob: 3 });
  rx = await new DataSetReceiver(DATA_TOKEN).start();
  dir = mkdtempSync(join(tmpdir(), 'tally-sched-'));
  const w = (name: string, v: unknown) => writeFileSync(join(dir, name), typeof v === 'string' ? v : JSON.stringify(v));
  w('feed.mjs', `export async function* main({ since, until, options }) {\n  yield { since: since?.toISOString() ?? null, until: until.toISOString(), label: options.label };\n}\n`);
  w('feed.query.json', { entrypoint: './feed.mjs', options: { label: 'x', additionalFields: { source: 'tally' } }, 'data-set': { 'data-group': 'automation', 'data-set': 'feed' } });
  w('target.json', { url: `${rx.url}/data` });
  w('token.json', { token: DATA_TOKEN });
  w('status-token.json', { token: STATUS_TOKEN });
  w('schedule.json', {
    collectors: {
      job_host_summary: { cron: '* * * * *' },
      feed: { cron: '* * * * *', dependsOn: ['job_host_summary'], query: 'feed.query.json', target: 'target.json', token: 'token.json', since: '2024-03-01' },
    },
  });
});

afterAll(async () => {
  await rx?.stop();
  await tdb?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('tally schedule with a user collector and the status API', () => {
  it('runs the user collector after the built-in it depends on, up to its watermark, and reports both', async () => {
    const shipPath = join(dir, 'ship');
    const env = { DATABASE_URL: tdb.url, METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: shipPath, METRICS_UTILITY_MAX_GATHER_PERIOD_DAYS: '1' };
    const runner = startTally(['schedule', '--schedule', join(dir, 'schedule.json'), '--listen', '127.0.0.1:0', '--status-token-file', join(dir, 'status-token.json')], env);
    try {
      let base = '';
      for (let i = 0; i < 900 && !(base && rx.records.length); i++) {
        base ||= /status API on (http:\/\/127\.0\.0\.1:\d+)\/api\/v1\/status/.exec(runner.stderr())?.[1] ?? '';
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(base, runner.stderr()).not.toBe('');
      expect(rx.records, runner.stderr()).toHaveLength(1);

      const auth = { authorization: `Bearer ${STATUS_TOKEN}` };
      expect((await fetch(`${base}/api/v1/status`)).status).toBe(401);
      expect((await fetch(`${base}/api/v1/status`, { headers: { authorization: 'Bearer wrong-token-8842' } })).status).toBe(401);
      expect((await fetch(`${base}/metrics`)).status).toBe(401);
      let status: { collectors: { collector: string; watermark: string | null; dataState: string; runState: string | null; enabled: boolean }[] } = { collectors: [] };
      for (let i = 0; i < 100; i++) {
        status = (await (await fetch(`${base}/api/v1/status`, { headers: auth })).json()) as typeof status;
        if (status.collectors.find((c) => c.collector === 'feed')?.runState === 'ready') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const by = new Map(status.collectors.map((c) => [c.collector, c]));
      const jhs = by.get('job_host_summary')!;
      const feed = by.get('feed')!;
      expect(jhs).toMatchObject({ dataState: 'complete', runState: 'ready' });
      expect(feed).toMatchObject({ enabled: true, dataState: 'complete', runState: 'ready' });
      // The feed ran from its configured start to where its dependency's data end.
      expect(rx.records[0]).toEqual({ source: 'tally', since: '2024-03-01T00:00:00.000Z', until: feed.watermark, label: 'x' });
      expect(Date.parse(feed.watermark!)).toBeLessThanOrEqual(Date.parse(jhs.watermark!));
      expect(rx.chunks[0]!.path).toBe('/data/automation/feed');

      const metrics = await fetch(`${base}/metrics`, { headers: auth });
      expect(metrics.status).toBe(200);
      const families = parsePrometheusTextFormat(await metrics.text());
      const value = (name: string, collector: string) => families.find((f) => f.name === name)?.metrics.find((m) => m.labels?.collector === collector)?.value;
      expect(value('tally_collector_last_run_rows', 'feed')).toBe('1');
      expect(Number(value('tally_collector_last_run_bytes', 'feed'))).toBe(JSON.stringify([rx.records[0]]).length);
      expect(Number(value('tally_collector_last_run_duration_seconds', 'feed'))).toBeGreaterThan(0);
      expect(Number(value('tally_collector_watermark_timestamp_seconds', 'feed'))).toBe(Date.parse(feed.watermark!) / 1000);
      expect(Number(value('tally_collector_last_run_bytes', 'job_host_summary'))).toBeGreaterThan(0);
      expect(Number(value('tally_collector_last_run_rows', 'job_host_summary'))).toBeGreaterThanOrEqual(0);
      expect(value('tally_collector_consecutive_failures', 'feed')).toBe('0');
      expect(Number(value('tally_collector_last_success_timestamp_seconds', 'job_host_summary'))).toBeGreaterThan(0);

      runner.child.kill('SIGTERM');
      expect(await runner.done).toEqual({ code: 0, signal: null });
    } finally {
      runner.child.kill('SIGKILL');
    }
  });
});
