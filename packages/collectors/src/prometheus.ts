import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CollectorError, errorMessage, type Logger, silentLogger } from '@tally/core';
import { Agent, request } from 'undici';
import type { CollectorParams } from './collector.js';
import { defineCollector } from './define.js';

export const DEFAULT_PROMETHEUS_URL = 'https://prometheus-k8s.openshift-monitoring.svc.cluster.local:9091';
/** The pod's service account: its `token` and `service-ca.crt` are used when no token or CA is given. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const QUERY = 'sum(machine_cpu_cores)';

export interface TotalWorkersVcpuParams extends CollectorParams {
  clusterName?: string;
  /** Usage-based metering; when off the collector reports 1 vCPU without asking Prometheus. */
  meteringEnabled?: boolean;
  prometheusUrl?: string;
  /**
   * PEM file of the CA that signed Prometheus's certificate (default: the service account's
   * `service-ca.crt`, when it exists, else the system store). TLS verification is never turned
   * off: "" (which metrics-utility documents as "skip verification") means the default, with a warning.
   */
  caCertPath?: string;
  /** Bearer token (default: the service account's `token` file, when it exists); never logged. */
  token?: string;
  /**
   * Where the defaults for `token` and `caCertPath` are read (`token`, `service-ca.crt`),
   * only when metering is enabled and only when the file exists (default SERVICE_ACCOUNT_DIR).
   */
  serviceAccountDir?: string;
  /** The clock, for tests (default: now). */
  now?: Date;
  timeoutMs?: number;
}

interface Validated {
  clusterName: string;
  meteringEnabled: boolean;
  url: string;
  caCertPath?: string;
  token?: string;
  serviceAccountDir: string;
  now?: Date;
  timeoutMs: number;
  logger: Logger;
}

/** The previous full hour `[start, end]` in epoch seconds, ending at its last millisecond (`…:59:59.999`). */
export function previousHour(at: Date): { start: number; end: number } {
  const hourStart = Math.floor(at.getTime() / 3_600_000) * 3600;
  return { start: hourStart - 3600, end: hourStart - 0.001 };
}

/** Epoch seconds as Python prints a float (`1705323600.0`, `1705327199.999`). */
const seconds = (s: number) => (Number.isInteger(s) ? `${s}.0` : String(s));
/** The newest reference's timestamps: UTC, milliseconds, `Z` (`2024-01-15T13:59:59.999Z`). */
const stamp = (epochSeconds: number) => new Date(Math.round(epochSeconds * 1000)).toISOString();

export interface PromSample {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

/** A Prometheus HTTP API client; `who` names the collector or entrypoint in its errors. */
export class PrometheusClient {
  private readonly base: string;
  constructor(
    url: string,
    private readonly token: string | undefined,
    private readonly dispatcher: Agent,
    private readonly timeoutMs: number,
    private readonly who = 'total_workers_vcpu',
  ) {
    this.base = url.replace(/\/+$/, '');
  }

  async get(path: string, query: Record<string, string>): Promise<PromSample[]> {
    const target = `${this.base}${path}?${new URLSearchParams(query).toString()}`;
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(target, {
        method: 'GET',
        headers,
        dispatcher: this.dispatcher,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
    } catch (err) {
      throw new CollectorError(this.who, `Prometheus at ${this.base} unreachable: ${errorMessage(err)}`, { cause: err });
    }
    const text = await res.body.text();
    if (res.statusCode !== 200) {
      throw new CollectorError(this.who, `Prometheus ${path}: HTTP error ${res.statusCode}: ${text.slice(0, 500)}`);
    }
    let body: { status?: string; error?: string; data?: { result?: PromSample[] } };
    try {
      body = JSON.parse(text);
    } catch {
      throw new CollectorError(this.who, `Prometheus ${path}: response is not JSON: ${text.slice(0, 200)}`);
    }
    if (body.status !== 'success') {
      throw new CollectorError(this.who, `Prometheus API error: ${body.error ?? 'unknown error'}`);
    }
    return body.data?.result ?? [];
  }
}

/**
 * Section 1.6 `total_workers_vcpu`: the maximum of `sum(machine_cpu_cores)` over the
 * previous full UTC hour. Fixes the reference, which evaluated the subquery *at*
 * the start of that hour and so measured the hour before it: here it is evaluated
 * at the hour's last millisecond (`[59m59s999ms:5m] @ end`). The payload is the
 * newest reference's tarball member, `{timestamp, cluster_name, total_workers_vcpu}`
 * with the hour's end as `…:59:59.999Z`; the whole info dict is logged. No sample →
 * `data: null`.
 */
export const totalWorkersVcpu = defineCollector<TotalWorkersVcpuParams, Validated>(
  {
    key: 'total_workers_vcpu',
    version: '1.0',
    format: 'json',
    description: 'vCPUs of the cluster worker nodes over the previous full hour (Prometheus)',
    slicing: 'limit',
    optional: true,
  },
  {
    validate(p) {
      const fail = (m: string) => new CollectorError('total_workers_vcpu', m);
      if (typeof p.clusterName !== 'string' || p.clusterName.trim() === '') {
        throw fail('param "clusterName" is required (METRICS_UTILITY_CLUSTER_NAME)');
      }
      const url = p.prometheusUrl ?? DEFAULT_PROMETHEUS_URL;
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw fail(`param "prometheusUrl" is not a URL: "${url}"`);
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw fail(`param "prometheusUrl" must be http(s): "${url}"`);
      if (p.caCertPath !== undefined && typeof p.caCertPath !== 'string') throw fail('param "caCertPath" must be a file path');
      if (p.serviceAccountDir !== undefined && (typeof p.serviceAccountDir !== 'string' || p.serviceAccountDir === '')) {
        throw fail('param "serviceAccountDir" must be a directory path');
      }
      if (p.now !== undefined && (!(p.now instanceof Date) || Number.isNaN(p.now.getTime()))) throw fail('param "now" must be a valid Date');
      const v: Validated = {
        clusterName: p.clusterName,
        meteringEnabled: p.meteringEnabled === true,
        url,
        serviceAccountDir: p.serviceAccountDir ?? SERVICE_ACCOUNT_DIR,
        timeoutMs: p.timeoutMs ?? 30_000,
        logger: p.logger ?? silentLogger,
      };
      if (p.caCertPath !== undefined) v.caCertPath = p.caCertPath;
      if (p.token) v.token = p.token;
      if (p.now) v.now = p.now;
      return v;
    },
    async run(v) {
      const at = v.now ?? new Date();
      const hour = previousHour(at);
      const info: Record<string, unknown> = {
        cluster_name: v.clusterName,
        collection_timestamp: at.toISOString(),
        start_timestamp: stamp(hour.start),
        end_timestamp: stamp(hour.end),
        usage_based_billing_enabled: v.meteringEnabled,
      };
      const payload = (total: number) => ({ timestamp: info.end_timestamp, cluster_name: v.clusterName, total_workers_vcpu: total });
      if (!v.meteringEnabled) {
        info.total_workers_vcpu = 1;
        v.logger.info('total_workers_vcpu: usage-based metering disabled, reporting 1', info);
        return { format: 'json', data: payload(1) };
      }
      const auth = await serviceAccountDefaults(v);
      const dispatcher = new Agent(auth.ca ? { connect: { ca: auth.ca } } : {});
      try {
        const client = new PrometheusClient(v.url, auth.token, dispatcher, v.timeoutMs);
        const promql = `max_over_time(${QUERY}[59m59s999ms:5m] @ ${seconds(hour.end)})`;
        const result = await client.get('/api/v1/query', { query: promql });
        const raw = result[0]?.value?.[1];
        const value = raw === undefined ? undefined : Number.parseFloat(raw);
        const range = await client.get('/api/v1/query_range', {
          query: QUERY,
          start: seconds(hour.start),
          end: seconds(hour.end),
          step: '5m',
        });
        info.promql_query = promql;
        info.timeline = range
          .flatMap((series) => series.values ?? [])
          .map(([ts, val]) => ({ timestamp: stamp(Number(ts)), cpu_sum: Number.parseFloat(val) }))
          .sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0));
        if (value === undefined || !Number.isFinite(value)) {
          info.total_workers_vcpu = null;
          v.logger.warn('total_workers_vcpu: Prometheus returned no machine_cpu_cores data for the previous hour', info);
          return { format: 'json', data: null };
        }
        info.total_workers_vcpu = Math.trunc(value);
        v.logger.info('total_workers_vcpu', info);
        return { format: 'json', data: payload(Math.trunc(value)) };
      } finally {
        await dispatcher.close();
      }
    },
  },
);

/**
 * The token and CA to use: the given ones, else the service account's files when they
 * exist (as the newest reference reads them in a pod). A token file that exists but
 * holds nothing is an error; its contents never appear in a message.
 */
async function serviceAccountDefaults(v: Validated): Promise<{ token?: string; ca?: string }> {
  const fail = (m: string, cause?: unknown) => new CollectorError('total_workers_vcpu', m, { cause });
  const exists = (path: string) =>
    access(path).then(
      () => true,
      () => false,
    );
  const out: { token?: string; ca?: string } = {};
  if (v.token) out.token = v.token;
  else {
    const path = join(v.serviceAccountDir, 'token');
    if (await exists(path)) {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        throw fail(`service account token ${path}: ${errorMessage(err)}`, err);
      }
      if (text.trim() === '') throw fail(`service account token ${path} is empty`);
      out.token = text.trim();
    }
  }
  let caPath = v.caCertPath;
  if (caPath === '') {
    v.logger.warn(
      'total_workers_vcpu: the CA path is empty; TLS verification stays on, against the service account CA when it exists, else the system store (metrics-utility turns verification off here)',
    );
  }
  if (!caPath) {
    const path = join(v.serviceAccountDir, 'service-ca.crt');
    if (await exists(path)) caPath = path;
  }
  if (caPath) {
    try {
      out.ca = await readFile(caPath, 'utf8');
    } catch (err) {
      throw fail(`CA certificate ${caPath}: ${errorMessage(err)}`, err);
    }
  }
  return out;
}
