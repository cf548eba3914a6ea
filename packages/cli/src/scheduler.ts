import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, errorMessage, lock, type Logger, type Queryable, silentLogger } from '@tally/core';
import { cronDue, parseCron, type CronSchedule } from './cron.js';
import {
  claim,
  declareCollectors,
  ensureScheduleTable,
  heartbeat,
  markBlocked,
  markFailed,
  markStarted,
  markSucceeded,
  readSchedule,
  type ScheduledCollector,
  type ScheduleRow,
} from './schedule-store.js';

/** What one scheduled run of a collector achieved. */
export interface CollectorRunResult {
  /** The data now reflect the source up to here. */
  watermark: Date;
  /** False when the run stopped short of `until` (e.g. capped by the max gather period). */
  complete: boolean;
}

/** Runs one collector for the window ending at `until` (gather + ship in the CLI). */
export type RunCollector = (key: string, until: Date, signal: AbortSignal) => Promise<CollectorRunResult>;

export interface SchedulerOptions {
  /** The connection holding the cluster lock and the run state (not the one collectors use). */
  db: Queryable;
  collectors: readonly ScheduledCollector[];
  runCollector: RunCollector;
  /** End of the window for a tick started at `now`, e.g. ten minutes ago. */
  untilFor: (now: Date) => Date;
  leaseSeconds?: number;
  /** The advisory lock key; one runner per cluster holds it. */
  lockKey?: string;
  runner?: string;
  logger?: Logger;
  now?: () => Date;
}

export type TickOutcome =
  | { key: string; outcome: 'ran'; watermark: Date; complete: boolean }
  | { key: string; outcome: 'failed'; error: string }
  | { key: string; outcome: 'blocked'; reason: string }
  | { key: string; outcome: 'busy' }
  | { key: string; outcome: 'not-due' }
  | { key: string; outcome: 'disabled' };

/** Order collectors so that dependencies run first in a tick; reject unknown names and cycles. */
export function dependencyOrder(collectors: readonly ScheduledCollector[]): ScheduledCollector[] {
  const byKey = new Map(collectors.map((c) => [c.key, c]));
  const out: ScheduledCollector[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (c: ScheduledCollector, path: string[]) => {
    if (state.get(c.key) === 'done') return;
    if (state.get(c.key) === 'visiting') {
      throw new ConfigError(`schedule: dependency cycle ${[...path, c.key].join(' → ')}`, { field: 'schedule' });
    }
    state.set(c.key, 'visiting');
    for (const d of c.dependsOn) {
      const dep = byKey.get(d);
      if (!dep) throw new ConfigError(`schedule: ${c.key} depends on ${d}, which is not a scheduled collector`, { field: 'schedule' });
      visit(dep, [...path, c.key]);
    }
    state.set(c.key, 'done');
    out.push(c);
  };
  for (const c of collectors) visit(c, []);
  return out;
}

/**
 * The window end a collector may run to, or why it is blocked. Every dependency
 * must have COMPLETE data (OSIDB's gate); the window then ends at the earliest
 * dependency watermark when that is before `until`, so a collector scheduled
 * between its dependencies' runs catches up to them instead of being blocked
 * forever. Blocked when that leaves nothing beyond its own watermark.
 */
export function windowFor(
  c: ScheduledCollector,
  until: Date,
  rows: ReadonlyMap<string, ScheduleRow>,
): { until: Date; blocked?: undefined } | { blocked: string } {
  const missing: string[] = [];
  let end = until;
  for (const d of c.dependsOn) {
    const dep = rows.get(d);
    if (dep?.dataState !== 'COMPLETE' || !dep.watermark) {
      missing.push(`${d} (${dep?.watermark ? `${dep.dataState.toLowerCase()} up to ${dep.watermark.toISOString()}` : 'no data'})`);
    } else if (dep.watermark.getTime() < end.getTime()) {
      end = dep.watermark;
    }
  }
  if (missing.length) return { blocked: `blocked: dependencies not complete: ${missing.join(', ')}` };
  const own = rows.get(c.key)?.watermark;
  if (c.dependsOn.length && own && end.getTime() <= own.getTime()) {
    return { blocked: `blocked: dependencies not complete beyond ${own.toISOString()}: ${c.dependsOn.map((d) => `${d} up to ${rows.get(d)!.watermark!.toISOString()}`).join(', ')}` };
  }
  return { until: end };
}

/**
 * The scheduler. `tick()` runs whatever is due, in dependency order; `run()`
 * holds the cluster lock and ticks every minute until aborted.
 */
export class Scheduler {
  readonly runner: string;
  private readonly lease: number;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly ordered: ScheduledCollector[];
  private readonly crons: Map<string, CronSchedule>;

  constructor(private readonly opts: SchedulerOptions) {
    this.runner = opts.runner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.lease = opts.leaseSeconds ?? 600;
    this.log = opts.logger ?? silentLogger;
    this.now = opts.now ?? (() => new Date());
    this.ordered = dependencyOrder(opts.collectors);
    this.crons = new Map(opts.collectors.map((c) => [c.key, parseCron(c.cron)]));
  }

  get lockKey(): string {
    return this.opts.lockKey ?? 'tally_schedule_lock';
  }

  async prepare(): Promise<void> {
    await ensureScheduleTable(this.opts.db);
    await declareCollectors(this.opts.db, this.opts.collectors);
  }

  /** One pass over the collectors; the caller holds the cluster lock. */
  async tick(signal: AbortSignal = new AbortController().signal): Promise<TickOutcome[]> {
    const db = this.opts.db;
    const now = this.now();
    const until = this.opts.untilFor(now);
    const outcomes: TickOutcome[] = [];
    for (const c of this.ordered) {
      if (signal.aborted) break;
      if (!c.enabled) {
        outcomes.push({ key: c.key, outcome: 'disabled' });
        continue;
      }
      const rows = new Map(((await readSchedule(db)) ?? []).map((r) => [r.key, r]));
      const row = rows.get(c.key);
      if (row && !cronDue(this.crons.get(c.key)!, row.lastRunAt ?? undefined, now)) {
        outcomes.push({ key: c.key, outcome: 'not-due' });
        continue;
      }
      const claimed = await claim(db, c.key, this.runner, this.lease);
      if (!claimed) {
        this.log.warn('collector is running elsewhere; its lease has not expired', { collector: c.key, runner: row?.runner });
        outcomes.push({ key: c.key, outcome: 'busy' });
        continue;
      }
      if (row?.runState === 'RUNNING') {
        this.log.warn('took over a collector whose runner stopped heart-beating', { collector: c.key, previousRunner: row.runner });
      }
      const w = windowFor(c, until, rows);
      if (w.blocked !== undefined) {
        await markBlocked(db, c.key, this.runner, w.blocked, now);
        this.log.info('run skipped: dependent collector data are not complete', { collector: c.key, reason: w.blocked });
        outcomes.push({ key: c.key, outcome: 'blocked', reason: w.blocked });
        continue;
      }
      outcomes.push(await this.runOne(c.key, w.until, now, signal));
    }
    return outcomes;
  }

  private async runOne(key: string, until: Date, now: Date, signal: AbortSignal): Promise<TickOutcome> {
    const db = this.opts.db;
    await markStarted(db, key, this.runner, now);
    this.log.info('run initiated', { collector: key, until: until.toISOString() });
    const beat = setInterval(
      () => {
        heartbeat(db, key, this.runner, this.lease).then(
          (ok) => {
            if (!ok) this.log.warn('lost the lease on a running collector', { collector: key });
          },
          (err) => this.log.warn('heartbeat failed', { collector: key, error: errorMessage(err) }),
        );
      },
      Math.max(1_000, (this.lease * 1000) / 3),
    );
    beat.unref();
    try {
      const result = await this.opts.runCollector(key, until, signal);
      clearInterval(beat);
      await markSucceeded(db, key, this.runner, result);
      this.log.info('run finished', { collector: key, watermark: result.watermark.toISOString(), complete: result.complete });
      return { key, outcome: 'ran', watermark: result.watermark, complete: result.complete };
    } catch (err) {
      clearInterval(beat);
      const error = errorMessage(err);
      await markFailed(db, key, this.runner, error);
      this.log.error('run failed', { collector: key, error });
      return { key, outcome: 'failed', error };
    }
  }

  /**
   * Hold the cluster lock and tick at every minute boundary until `signal`
   * aborts. A runner that cannot get the lock stands by and retries, so a
   * second replica takes over when the first dies.
   */
  async run(signal: AbortSignal, opts: { once?: boolean; standbyMs?: number } = {}): Promise<{ acquired: boolean; outcomes: TickOutcome[] }> {
    const all: TickOutcome[] = [];
    while (!signal.aborted) {
      const held = await lock(this.opts.db, this.lockKey);
      if (!held) {
        if (opts.once) return { acquired: false, outcomes: all };
        this.log.info('another runner holds the schedule lock; standing by', { lock: this.lockKey });
        await sleep(opts.standbyMs ?? 30_000, undefined, { signal }).catch(() => {});
        continue;
      }
      try {
        await this.prepare();
        for (;;) {
          all.push(...(await this.tick(signal)));
          if (opts.once || signal.aborted) return { acquired: true, outcomes: all };
          const wait = 60_000 - (this.now().getTime() % 60_000) + 500;
          await sleep(wait, undefined, { signal }).catch(() => {});
          if (signal.aborted) return { acquired: true, outcomes: all };
        }
      } finally {
        await held.release();
      }
    }
    return { acquired: true, outcomes: all };
  }
}
