import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterEach, describe, expect, it } from 'vitest';
import type { StatusReport } from '../src/status-command.js';
import { type LastRun, parseListen, renderMetrics, type StatusServer, startStatusServer, tokenMatches } from '../src/status-server.js';

const REPORT: StatusReport = {
  collectors: [
    { collector: 'job_host_summary', enabled: true, lastSuccess: '2024-03-11T07:00:00.000Z', watermark: '2024-03-11T06:55:00.000Z', dataState: 'complete', runState: 'ready', lastError: null, consecutiveFailures: 0 },
    { collector: 'we"ird\\name', enabled: false, lastSuccess: null, watermark: null, dataState: 'empty', runState: 'blocked', lastError: 'blocked', consecutiveFailures: 3 },
  ],
};
const RUNS = new Map<string, LastRun>([['job_host_summary', { rows: 1234, bytes: 56789, durationMs: 2500, ok: true }]]);

let server: StatusServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const start = (over: Partial<Parameters<typeof startStatusServer>[0]> = {}) =>
  startStatusServer({ listen: '127.0.0.1:0', status: async () => REPORT, lastRuns: () => RUNS, ...over });

describe('status API', () => {
  it('/metrics is Prometheus text a real parser reads, one sample per collector and family', async () => {
    server = await start();
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const families = parsePrometheusTextFormat(await res.text());
    const value = (name: string, collector: string) =>
      families.find((f) => f.name === name)?.metrics.find((m) => m.labels?.collector === collector)?.value;
    expect(families.every((f) => f.type === 'GAUGE')).toBe(true);
    expect(value('tally_collector_last_success_timestamp_seconds', 'job_host_summary')).toBe(String(Date.parse('2024-03-11T07:00:00Z') / 1000));
    expect(value('tally_collector_watermark_timestamp_seconds', 'job_host_summary')).toBe(String(Date.parse('2024-03-11T06:55:00Z') / 1000));
    expect(value('tally_collector_consecutive_failures', 'we"ird\\name')).toBe('3');
    expect(value('tally_collector_enabled', 'we"ird\\name')).toBe('0');
    expect(value('tally_collector_data_complete', 'job_host_summary')).toBe('1');
    expect(value('tally_collector_last_run_rows', 'job_host_summary')).toBe('1234');
    expect(value('tally_collector_last_run_bytes', 'job_host_summary')).toBe('56789');
    expect(value('tally_collector_last_run_duration_seconds', 'job_host_summary')).toBe('2.5');
    // Nothing is invented for a collector that never succeeded or ran here.
    expect(value('tally_collector_last_success_timestamp_seconds', 'we"ird\\name')).toBeUndefined();
    expect(value('tally_collector_last_run_rows', 'we"ird\\name')).toBeUndefined();
  });

  it('/api/v1/status is the JSON of tally status --json; a token is required when configured', async () => {
    server = await start({ token: 'status-token-0123' });
    const url = `${server.url}/api/v1/status`;
    expect((await fetch(url)).status).toBe(401);
    const wrong = await fetch(url, { headers: { authorization: 'Bearer status-token-0124' } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await fetch(`${server.url}/metrics`, { headers: { authorization: 'Basic status-token-0123' } })).status).toBe(401);
    const ok = await fetch(url, { headers: { authorization: 'Bearer status-token-0123' } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual(REPORT);
    expect((await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer status-token-0123' } })).status).toBe(200);
    expect((await fetch(`${server.url}/healthy`)).status).toBe(200);
    expect((await fetch(`${server.url}/nope`, { headers: { authorization: 'Bearer status-token-0123' } })).status).toBe(404);
    expect((await fetch(url, { method: 'POST' })).status).toBe(405);
  });

  it('answers 503 when the state cannot be read, without the error text', async () => {
    server = await start({ status: async () => Promise.reject(new Error('connection refused to secret-host')) });
    const res = await fetch(`${server.url}/api/v1/status`);
    expect(res.status).toBe(503);
    expect(await res.text()).not.toContain('secret-host');
  });

  it('refuses a non-loopback address without a token unless told otherwise', async () => {
    await expect(start({ listen: '0.0.0.0:0' })).rejects.toThrow(/without a token the status API listens on loopback only/);
    server = await start({ listen: '0.0.0.0:0', insecure: true });
    expect(server.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
    await server.close();
    server = await start({ listen: '0.0.0.0:0', token: 'status-token-0123' });
    expect((await fetch(`${server.url.replace('0.0.0.0', '127.0.0.1')}/metrics`)).status).toBe(401);
  });

  it('parses HOST:PORT and compares tokens exactly', () => {
    expect(parseListen('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    expect(() => parseListen('9464')).toThrow(/is not HOST:PORT/);
    expect(() => parseListen('localhost:99999')).toThrow(/is not HOST:PORT/);
    expect(tokenMatches('Bearer abc', 'abc')).toBe(true);
    expect(tokenMatches('Bearer abcd', 'abc')).toBe(false);
    expect(tokenMatches('Bearer ', '')).toBe(false);
    expect(tokenMatches(undefined, 'abc')).toBe(false);
  });

  it('renders nothing but headers for an empty report', () => {
    const text = renderMetrics({ collectors: [] }, new Map());
    const families = parsePrometheusTextFormat(text);
    expect(families).toHaveLength(8);
    expect(families.every((f) => f.metrics.length === 0 && f.help.length > 0)).toBe(true);
  });
});
