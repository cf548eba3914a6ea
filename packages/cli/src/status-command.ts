import { ConfigError, loadConfig, type Queryable } from '@tally/core';
import { PostgresStateStore, readCollectorStatus, type StateStore } from '@tally/gather';
import { connectDatabase, databaseUrl } from './db-connection.js';
import { enabledCollectorKeys } from './collector-selection.js';
import type { CliIO } from './io.js';
import { openState, stateChoice, type StateOptions } from './state-choice.js';
import { postgresScheduleStore, type ScheduleStore } from './schedule-store.js';

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

/** Where status is read: gather's state store and the scheduler's run state (an opened state, see state-choice.ts). */
export interface StatusSource {
  store: StateStore;
  schedule: Pick<ScheduleStore, 'read'>;
}

/**
 * Read every collector's state: the gather state store (watermarks, runs),
 * overlaid with the scheduler's run and data state where it manages the
 * collector. `source` is that state, or a connection to the controller database
 * holding it (the default). `enabled` lists the keys the current configuration
 * gathers; they are shown (as empty) even before their first run. Writes nothing.
 */
export async function readStatus(source: Queryable | StatusSource, enabled: readonly string[] = []): Promise<StatusReport> {
  const from = 'store' in source ? source : { store: new PostgresStateStore(source), schedule: postgresScheduleStore(source) };
  const byKey = new Map<string, CollectorStatus>();
  for (const s of await readGatherState(from.store, new Set(enabled))) byKey.set(s.collector, s);
  for (const key of enabled) {
    if (!byKey.has(key)) {
      byKey.set(key, { collector: key, enabled: true, lastSuccess: null, watermark: null, dataState: 'empty', runState: null, lastError: null, consecutiveFailures: 0 });
    }
  }
  for (const r of (await from.schedule.read()) ?? []) {
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
async function readGatherState(store: StateStore, enabled: ReadonlySet<string>): Promise<CollectorStatus[]> {
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
  opts: { json?: boolean; db?: string; config?: string; month?: string; since?: Date; until?: Date } & StateOptions,
  io: CliIO,
): Promise<void> {
  const cfg = loadConfig({ env: io.env, ...(opts.config ? { file: opts.config } : {}) });
  if (opts.month || opts.since || opts.until) {
    // Coverage reads the stored tarballs: a state option would be silently ignored.
    if (opts.stateDb || opts.stateFile) throw new ConfigError('--month/--since/--until read the stored tarballs; --state-db/--state-file do not apply', { field: 'stateDb' });
    const { coverageCommand } = await import('./coverage-command.js');
    await coverageCommand(cfg, opts, io);
    return;
  }
  const choice = stateChoice(opts, io.env, io.cwd);
  // State kept elsewhere needs no controller connection.
  const client = choice.kind === 'controller' ? await connectDatabase(databaseUrl(opts.db, io.env, 'tally status'), 'tally status') : undefined;
  try {
    const state = await openState(choice, client, 'tally status');
    try {
      const report = await readStatus(state, ['config', ...enabledCollectorKeys(cfg)]);
      io.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report));
    } finally {
      await state.close();
    }
  } finally {
    await client?.end().catch(() => {});
  }
}
