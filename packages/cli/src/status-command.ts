import { loadConfig, type Queryable } from '@tally/core';
import { PostgresStateStore, readCollectorStatus } from '@tally/gather';
import { connectDatabase, databaseUrl } from './db-connection.js';
import { enabledCollectorKeys } from './collector-selection.js';
import type { CliIO } from './io.js';
import { readSchedule } from './schedule-store.js';

/** One collector's health, as `tally status` shows it. */
export interface CollectorStatus {
  collector: string;
  enabled: boolean;
  /** When the last successful run finished (ISO), or null. */
  lastSuccess: string | null;
  /** The data reflect the source up to here (ISO), or null. */
  watermark: string | null;
  dataState: 'empty' | 'partial' | 'complete';
  /** `pending`, `blocked`, `ready` or `running` when the scheduler manages it; null otherwise. */
  runState: string | null;
  lastError: string | null;
  consecutiveFailures: number;
}

export interface StatusReport {
  collectors: CollectorStatus[];
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/**
 * Read every collector's state from PostgreSQL: the gather state store (watermarks,
 * runs), overlaid with the scheduler's run and data state where it manages the
 * collector. `enabled` lists the keys the current configuration gathers; they are
 * shown (as empty) even before their first run.
 */
export async function readStatus(db: Queryable, enabled: readonly string[] = []): Promise<StatusReport> {
  const byKey = new Map<string, CollectorStatus>();
  for (const s of await readGatherState(db, new Set(enabled))) byKey.set(s.collector, s);
  for (const key of enabled) {
    if (!byKey.has(key)) {
      byKey.set(key, { collector: key, enabled: true, lastSuccess: null, watermark: null, dataState: 'empty', runState: null, lastError: null, consecutiveFailures: 0 });
    }
  }
  for (const r of (await readSchedule(db)) ?? []) {
    const prev = byKey.get(r.key);
    const fromSchedule: CollectorStatus = {
      collector: r.key,
      enabled: r.enabled,
      lastSuccess: iso(r.lastSuccessAt),
      watermark: iso(r.watermark),
      dataState: r.dataState.toLowerCase() as CollectorStatus['dataState'],
      runState: r.runState.toLowerCase(),
      lastError: r.lastError || null,
      consecutiveFailures: r.consecutiveFailures,
    };
    byKey.set(r.key, prev ? mergeStatus(prev, fromSchedule) : fromSchedule);
  }
  return { collectors: [...byKey.values()].sort((a, b) => a.collector.localeCompare(b.collector)) };
}

/**
 * Gather's record is the truth about data and errors (every gather writes it,
 * scheduled or not); the scheduler adds its run state and, while it blocks a
 * collector on its dependencies, that reason.
 */
function mergeStatus(gather: CollectorStatus, schedule: CollectorStatus): CollectorStatus {
  const blocked = schedule.runState === 'blocked';
  return {
    ...gather,
    enabled: schedule.enabled,
    runState: schedule.runState,
    dataState: schedule.dataState === 'empty' ? gather.dataState : schedule.dataState,
    lastError: blocked ? schedule.lastError : gather.lastError,
  };
}

/**
 * The gather state store's view. Data state: empty without a watermark; complete
 * when the latest run succeeded; partial when a watermark exists but the latest
 * run failed (later slices were left for the next run).
 */
async function readGatherState(db: Queryable, enabled: ReadonlySet<string>): Promise<CollectorStatus[]> {
  const { rows } = await db.query<{ t: string | null }>("SELECT to_regclass('tally_gather_state')::text AS t");
  if (!rows[0]?.t) return [];
  const store = new PostgresStateStore(db);
  return (await readCollectorStatus(store)).map((s) => {
    const failedLast = s.consecutiveFailures > 0;
    return {
      collector: s.key,
      enabled: enabled.size === 0 || enabled.has(s.key),
      lastSuccess: iso(s.lastSuccessAt),
      watermark: iso(s.watermark),
      // Snapshot collectors (config, main_host) keep no watermark: a clean last run is their complete data.
      dataState: failedLast ? (s.watermark ? 'partial' : 'empty') : s.watermark || s.lastSuccessAt ? 'complete' : 'empty',
      runState: null,
      lastError: failedLast ? (s.lastError ?? null) : null,
      consecutiveFailures: s.consecutiveFailures,
    };
  });
}

function pad(s: string, n: number) {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export function formatStatus(report: StatusReport): string {
  if (!report.collectors.length) return 'No collector has run against this database yet (run `tally gather` or `tally schedule`).\n';
  const head = ['collector', 'enabled', 'state', 'watermark', 'last success', 'failures', 'last error'];
  const rows = report.collectors.map((c) => [
    c.collector,
    c.enabled ? 'yes' : 'no',
    c.runState ? `${c.dataState}/${c.runState}` : c.dataState,
    c.watermark ?? '-',
    c.lastSuccess ?? '-',
    String(c.consecutiveFailures),
    (c.lastError ?? '').replace(/\s+/g, ' ').slice(0, 80),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : pad(cell, widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

export async function statusCommand(
  opts: { json?: boolean; db?: string; config?: string; month?: string; since?: Date; until?: Date },
  io: CliIO,
): Promise<void> {
  const cfg = loadConfig({ env: io.env, ...(opts.config ? { file: opts.config } : {}) });
  if (opts.month || opts.since || opts.until) {
    const { coverageCommand } = await import('./coverage-command.js');
    await coverageCommand(cfg, opts, io);
    return;
  }
  const url = databaseUrl(opts.db, io.env, 'tally status');
  const client = await connectDatabase(url, 'tally status');
  try {
    const report = await readStatus(client, ['config', ...enabledCollectorKeys(cfg)]);
    io.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report));
  } finally {
    await client.end().catch(() => {});
  }
}
