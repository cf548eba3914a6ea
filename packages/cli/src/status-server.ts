import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, errorMessage, type Logger, silentLogger } from '@tally/core';
import type { StatusReport } from './status-command.js';

/** What the scheduler measured about a collector's last finished run (kept in memory by the runner). */
export interface LastRun {
  /** Rows (built-ins: CSV rows gathered) or records (user collectors: records delivered). */
  rows?: number;
  /** Bytes delivered: tarball bytes shipped, or JSON bytes POSTed. */
  bytes?: number;
  durationMs: number;
  ok: boolean;
}

export interface StatusServerOptions {
  /** `HOST:PORT` (`[::1]:9464` for IPv6); port 0 picks a free one. */
  listen: string;
  /** With a token, every endpoint but /healthy needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Serve without a token on a non-loopback address (otherwise refused). */
  insecure?: boolean;
  /** The JSON of `tally status --json`. */
  status(): Promise<StatusReport>;
  lastRuns(): ReadonlyMap<string, LastRun>;
  logger?: Logger;
}

export interface StatusServer {
  /** `http://host:port` it listens on. */
  readonly url: string;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Split `HOST:PORT`; a usage error when it is not one. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65_535) throw new ConfigError(`--listen ${JSON.stringify(value)} is not HOST:PORT (e.g. 127.0.0.1:9464 or [::1]:9464)`, { field: '--listen' });
  return { host: (m[1] ?? m[2])!, port };
}

/** Constant-time comparison of a presented bearer token with the configured one (digests first: equal lengths, no length leak). */
export function tokenMatches(header: string | undefined, token: string): boolean {
  const presented = header?.startsWith('Bearer ') ? header.slice(7) : '';
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b) && presented.length > 0;
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const seconds = (iso: string | null) => (iso ? Date.parse(iso) / 1000 : undefined);

interface Family {
  name: string;
  help: string;
  value(collector: StatusReport['collectors'][number], run: LastRun | undefined): number | undefined;
}

const FAMILIES: Family[] = [
  { name: 'tally_collector_enabled', help: '1 when the collector is enabled', value: (c) => (c.enabled ? 1 : 0) },
  { name: 'tally_collector_last_success_timestamp_seconds', help: 'When the last successful run finished (Unix time)', value: (c) => seconds(c.lastSuccess) },
  { name: 'tally_collector_watermark_timestamp_seconds', help: 'The data reflect the source up to this instant (Unix time)', value: (c) => seconds(c.watermark) },
  { name: 'tally_collector_data_complete', help: '1 when the data are complete up to the watermark, 0 when partial or empty', value: (c) => (c.dataState === 'complete' ? 1 : 0) },
  { name: 'tally_collector_consecutive_failures', help: 'Failed runs since the last success', value: (c) => c.consecutiveFailures },
  { name: 'tally_collector_last_run_rows', help: 'Rows (records) of the last run by this runner', value: (_c, r) => r?.rows },
  { name: 'tally_collector_last_run_bytes', help: 'Bytes delivered by the last run by this runner', value: (_c, r) => r?.bytes },
  { name: 'tally_collector_last_run_duration_seconds', help: 'Duration of the last run by this runner', value: (_c, r) => (r ? r.durationMs / 1000 : undefined) },
];

/** The Prometheus text exposition (format 0.0.4) of the status report and this runner's last runs. */
export function renderMetrics(report: StatusReport, runs: ReadonlyMap<string, LastRun>): string {
  const lines: string[] = [];
  for (const f of FAMILIES) {
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} gauge`);
    for (const c of report.collectors) {
      const v = f.value(c, runs.get(c.collector));
      if (v !== undefined && Number.isFinite(v)) lines.push(`${f.name}{collector="${escapeLabel(c.collector)}"} ${v}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * `tally schedule --listen`: GET /api/v1/status (the JSON of `tally status --json`),
 * GET /metrics (Prometheus text) and an unauthenticated GET /healthy for probes.
 * Without a token it refuses a non-loopback address unless `insecure` says so.
 */
export async function startStatusServer(opts: StatusServerOptions): Promise<StatusServer> {
  const { host, port } = parseListen(opts.listen);
  if (!opts.token && !LOOPBACK.has(host) && !opts.insecure) {
    throw new ConfigError(
      `--listen ${opts.listen}: without a token the status API listens on loopback only; set TALLY_STATUS_TOKEN or --status-token-file, or pass --listen-insecure`,
      { field: '--listen' },
    );
  }
  const log = opts.logger ?? silentLogger;
  const send = (res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...extra }).end(body);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://status.invalid').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n', { allow: 'GET, HEAD' });
    if (path === '/healthy') return send(res, 200, 'text/plain', 'ok\n');
    if (path !== '/api/v1/status' && path !== '/metrics') return send(res, 404, 'text/plain', 'not found: try /api/v1/status or /metrics\n');
    if (opts.token && !tokenMatches(req.headers.authorization, opts.token)) {
      return send(res, 401, 'application/json', '{"error":"unauthorized"}\n', { 'www-authenticate': 'Bearer realm="tally"' });
    }
    try {
      const report = await opts.status();
      if (path === '/metrics') send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', renderMetrics(report, opts.lastRuns()));
      else send(res, 200, 'application/json', `${JSON.stringify(report, null, 2)}\n`);
    } catch (err) {
      log.warn('status API: reading the state failed', { path, error: errorMessage(err) });
      send(res, 503, 'application/json', `${JSON.stringify({ error: 'state unavailable' })}\n`);
    }
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.listen(port, host);
  try {
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([e]) => Promise.reject(e))]);
  } catch (err) {
    throw new ConfigError(`--listen ${opts.listen}: ${errorMessage(err)}`, { field: '--listen' });
  }
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  log.info('status API listening', { url, auth: opts.token ? 'bearer' : 'none' });
  return {
    url,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
