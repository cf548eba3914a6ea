import { readFileSync } from 'node:fs';
import { CollectorError, errorMessage, registerSecret } from '@tally/core';
import { Agent } from 'undici';
import { PrometheusClient } from '../prometheus.js';
import type { DataRecord, EntrypointArgs } from './types.js';

const NAME = 'tally:prometheus';
/** Prometheus refuses ranges over 11 000 points per series; stay under it. */
const MAX_POINTS = 10_000;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A step such as `30s`, `5m`, `1h` or `15` (seconds) in milliseconds. */
export function stepMs(step: unknown): number {
  const m = typeof step === 'number' ? [String(step), String(step), 's'] : /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(String(step ?? '').trim());
  const ms = m ? Number(m[1]) * UNIT_MS[m[2] ?? 's']! : Number.NaN;
  if (!Number.isFinite(ms) || ms < 1) throw new CollectorError(NAME, `step ${JSON.stringify(step)} is not a duration such as "30s", "5m" or "1h"`);
  return ms;
}

const secs = (ms: number) => (ms / 1000).toFixed(3);

/**
 * The evaluation windows of a half-open `[since, until)` range: aligned on `since`,
 * each at most MAX_POINTS steps, the last ending before `until`.
 */
export function rangeWindows(since: Date, until: Date, step: number): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  const last = until.getTime() - 1;
  for (let start = since.getTime(); start <= last; start += MAX_POINTS * step) {
    out.push({ start, end: Math.min(start + (MAX_POINTS - 1) * step, last) });
  }
  return out;
}

function credentialsOf(raw: Record<string, unknown>): { url: string; token?: string; ca?: string } {
  const fail = (m: string) => new CollectorError(NAME, `credentials: ${m}`);
  const { url, token, caCertPath } = raw;
  if (typeof url !== 'string') throw fail('"url" is required: the Prometheus API base, e.g. https://prometheus:9091');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw fail(`"url" is not a URL: ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw fail(`"url" must be http(s): ${url}`);
  if (token !== undefined && (typeof token !== 'string' || token === '' || /\s/.test(token))) throw fail('"token" must be a non-empty string without spaces');
  if (caCertPath !== undefined && typeof caCertPath !== 'string') throw fail('"caCertPath" must be a file path');
  registerSecret(token as string | undefined);
  let ca: string | undefined;
  if (caCertPath) {
    try {
      ca = readFileSync(caCertPath as string, 'utf8');
    } catch (err) {
      throw fail(`caCertPath ${String(caCertPath)}: ${errorMessage(err)}`);
    }
  }
  return { url, ...(token ? { token: token as string } : {}), ...(ca ? { ca } : {}) };
}

/**
 * The built-in PromQL range entrypoint: `query` is the PromQL (or `{"promql", "step"}`),
 * evaluated over `[since, until)` every `step` (default `options.step`, else 60s). One
 * record per sample: `{_timestamp, value, metric}` (`value` a number when finite).
 */
export async function* prometheusMain(args: EntrypointArgs): AsyncGenerator<DataRecord> {
  const creds = credentialsOf(args.credentials);
  const q = args.query;
  const promql = typeof q === 'string' ? q : (q as { promql?: unknown } | null)?.promql;
  if (typeof promql !== 'string' || promql.trim() === '') throw new CollectorError(NAME, 'query must be the PromQL text (or {"promql": "…", "step": "5m"})');
  const step = stepMs((q as { step?: unknown } | null)?.step ?? args.options.step ?? '60s');
  if (!args.since || !args.until) throw new CollectorError(NAME, 'a range query needs since and until (--since/--until, or the schedule\'s watermark)');
  const dispatcher = new Agent(creds.ca ? { connect: { ca: creds.ca } } : {});
  try {
    const client = new PrometheusClient(creds.url, creds.token, dispatcher, 60_000, NAME);
    for (const w of rangeWindows(args.since, args.until, step)) {
      const series = await client.get('/api/v1/query_range', { query: promql, start: secs(w.start), end: secs(w.end), step: secs(step) });
      for (const s of series) {
        for (const [ts, raw] of s.values ?? []) {
          const n = Number(raw);
          yield { _timestamp: new Date(Math.round(ts * 1000)).toISOString(), value: Number.isFinite(n) ? n : raw, metric: s.metric };
        }
      }
    }
  } finally {
    await dispatcher.close();
  }
}
