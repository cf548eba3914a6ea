import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { advisoryLock, type ClusterLock, ConfigError, errorMessage, type Logger, type Queryable, silentLogger } from '@tally/core';
import { cronDue, parseCron, type CronSchedule } from './cron.js';
import { postgresScheduleStore, type ScheduledCollector, type ScheduleRow, type ScheduleStore } from './schedule-store.js';

/** What one scheduled run of a collector achieved. */
export interface CollectorRunResult {
  /** The data now reflect the source up to here. */
  watermark: Date;
  /** False when the run stopped short of `until` (e.g. capped by the max gather period). */
  complete: boolean;
}

/** Runs one collector for the window ending at `until` (gather + ship in the CLI); `watermark` is where its data end so far. */
export type RunCollector = (key: string, until: Date, signal: AbortSignal, watermark?: Date) => Promise<CollectorRunResult>;

/** The scheduler's own connection; `end` (when present) is called when it is replaced. */
export type SchedulerConnection = Queryable & { end?: () => Promise<void> };

export interface SchedulerOptions {
  /** The connection holding the cluster lock and the run state (not the one collectors use). */
  db: SchedulerConnection;
  /**
   * Open a fresh connection. With it, `run()` survives a lost connection (server restart,
   * failover, network cut): it reconnects with backoff, takes the cluster lock again (or stands
   * by if another runner took it meanwhile) and goes on. Without it, a lost connection ends
   * `run()` with the error, as does any error in `once` mode.
   */
  reconnect?: () => Promise<SchedulerConnection>;
  /** First delay before reconnecting, doubled per failed attempt up to a minute (default 1000). */
  reconnectDelayMs?: number;
  collectors: readonly ScheduledCollector[];
  runCollector: RunCollector;
  /** End of the window for a tick started at `now`, e.g. ten minutes ago. */
  untilFor: (now: Date) => Date;
  leaseSeconds?: number;
  /** The advisory lock key; one runner per cluster holds it. */
  lockKey?: string;
  /** The run state for the current connection (default the table in `db`; a state file ignores the connection). */
  storeFor?: (db: Queryable) => ScheduleStore;
  /** Take the cluster lock here instead of as an advisory lock on `db` (e.g. a lock file). */
  lock?: ClusterLock;
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
  private db: SchedulerConnection;
  /** A run that finished while the connection was lost: recorded once reconnected. */
  private unrecorded: { key: string; result: CollectorRunResult } | undefined;

  constructor(private readonly opts: SchedulerOptions) {
    this.db = opts.db;
    this.runner = opts.runner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.lease = opts.leaseSeconds ?? 600;
    this.log = opts.logger ?? silentLogger;
    this.now = opts.now ?? (() => new Date());
    this.ordered = dependencyOrder(opts.collectors);
    this.crons = new Map(opts.collectors.map((c) => [c.key, parseCron(c.cron)]));
  }

  /** The connection in use (a new one after a reconnect); the caller ends it after `run()`. */
  get connection(): SchedulerConnection {
    return this.db;
  }

  /** The run state: the given store, else the table on the current connection. */
  private get store(): ScheduleStore {
    return (this.opts.storeFor ?? postgresScheduleStore)(this.db);
  }

  get lockKey(): string {
    return this.opts.lockKey ?? 'tally_schedule_lock';
  }

  async prepare(): Promise<void> {
    await this.store.ensure();
    await this.store.declare(this.opts.collectors);
    if (this.unrecorded) {
      // No-op if another runner took the collector over meanwhile (the update checks the runner).
      await this.store.markSucceeded(this.unrecorded.key, this.runner, this.unrecorded.result);
      this.unrecorded = undefined;
    }
  }

  /** One pass over the collectors; the caller holds the cluster lock. */
  async tick(signal: AbortSignal = new AbortController().signal): Promise<TickOutcome[]> {
    const store = this.store;
    const now = this.now();
    const until = this.opts.untilFor(now);
    const outcomes: TickOutcome[] = [];
    for (const c of this.ordered) {
      if (signal.aborted) break;
      if (!c.enabled) {
        outcomes.push({ key: c.key, outcome: 'disabled' });
        continue;
      }
      const rows = new Map(((await store.read()) ?? []).map((r) => [r.key, r]));
      const row = rows.get(c.key);
      if (row && !cronDue(this.crons.get(c.key)!, row.lastRunAt ?? undefined, now)) {
        outcomes.push({ key: c.key, outcome: 'not-due' });
        continue;
      }
      const claimed = await store.claim(c.key, this.runner, this.lease);
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
        await store.markBlocked(c.key, this.runner, w.blocked, now);
        this.log.info('run skipped: dependent collector data are not complete', { collector: c.key, reason: w.blocked });
        outcomes.push({ key: c.key, outcome: 'blocked', reason: w.blocked });
        continue;
      }
      outcomes.push(await this.runOne(c.key, w.until, now, signal, row?.watermark ?? undefined));
    }
    return outcomes;
  }

  private async runOne(key: string, until: Date, now: Date, signal: AbortSignal, watermark?: Date): Promise<TickOutcome> {
    await this.store.markStarted(key, this.runner, now);
    this.log.info('run initiated', { collector: key, until: until.toISOString() });
    const beat = setInterval(
      () => {
        this.store.heartbeat(key, this.runner, this.lease).then(
          (ok) => {
            if (!ok) this.log.warn('lost the lease on a running collector', { collector: key });
          },
          (err) => this.log.warn('heartbeat failed', { collector: key, error: errorMessage(err) }),
        );
      },
      Math.max(1_000, (this.lease * 1000) / 3),
    );
    beat.unref();
    let result: CollectorRunResult;
    try {
      result = await this.opts.runCollector(key, until, signal, watermark);
    } catch (err) {
      clearInterval(beat);
      const error = errorMessage(err);
      await this.store.markFailed(key, this.runner, error);
      this.log.error('run failed', { collector: key, error });
      return { key, outcome: 'failed', error };
    }
    clearInterval(beat);
    try {
      await this.store.markSucceeded(key, this.runner, result);
    } catch (err) {
      this.unrecorded = { key, result };
      throw err;
    }
    this.log.info('run finished', { collector: key, watermark: result.watermark.toISOString(), complete: result.complete });
    return { key, outcome: 'ran', watermark: result.watermark, complete: result.complete };
  }

  /**
   * Hold the cluster lock and tick at every minute boundary (every `tickMs`) until `signal`
   * aborts. A runner that cannot get the lock stands by and retries, so a second replica takes
   * over when the first dies. With `reconnect`, a lost connection is reopened (see the option).
   */
  async run(
    signal: AbortSignal,
    opts: { once?: boolean; standbyMs?: number; tickMs?: number } = {},
  ): Promise<{ acquired: boolean; outcomes: TickOutcome[] }> {
    const run = { outcomes: [] as TickOutcome[], acquired: false };
    while (!signal.aborted) {
      try {
        if (await this.holdLockAndTick(signal, opts, run)) break;
      } catch (err) {
        if (opts.once || !this.opts.reconnect || !(await this.connectionLost())) throw err;
        this.log.warn('lost the database connection; reconnecting', { error: errorMessage(err) });
        await this.reopen(signal);
      }
    }
    return run;
  }

  /**
   * One stretch of holding the lock, adding to `run`: true when finished (once, or aborted),
   * false to stand by and try the lock again.
   */
  private async holdLockAndTick(
    signal: AbortSignal,
    opts: { once?: boolean; standbyMs?: number; tickMs?: number },
    run: { outcomes: TickOutcome[]; acquired: boolean },
  ): Promise<boolean> {
    const held = await (this.opts.lock ?? advisoryLock(this.db)).acquire(this.lockKey);
    if (!held) {
      if (opts.once) return true;
      this.log.info('another runner holds the schedule lock; standing by', { lock: this.lockKey });
      await sleep(opts.standbyMs ?? 30_000, undefined, { signal }).catch(() => {});
      return false;
    }
    run.acquired = true;
    try {
      await this.prepare();
      const every = opts.tickMs ?? 60_000;
      for (;;) {
        run.outcomes.push(...(await this.tick(signal)));
        if (opts.once || signal.aborted) return true;
        // Just past the boundary, so a cron minute is never evaluated a moment early.
        const wait = every - (this.now().getTime() % every) + Math.min(500, every / 10);
        await sleep(wait, undefined, { signal }).catch(() => {});
        if (signal.aborted) return true;
      }
    } finally {
      // On a lost connection the server has already released the lock with the session.
      await held.release().catch((err: unknown) => this.log.debug('schedule lock release failed', { error: errorMessage(err) }));
    }
  }

  /** Is the connection gone (rather than the error being about the query)? */
  private async connectionLost(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no answer in 10 s')), 10_000);
    });
    try {
      await Promise.race([this.db.query('SELECT 1'), timeout]);
      return false;
    } catch {
      return true;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Replace the connection, retrying with backoff until it works or `signal` aborts. */
  private async reopen(signal: AbortSignal): Promise<void> {
    const first = this.opts.reconnectDelayMs ?? 1_000;
    for (let attempt = 0; !signal.aborted; attempt++) {
      await sleep(Math.min(60_000, first * 2 ** attempt), undefined, { signal }).catch(() => {});
      if (signal.aborted) return;
      try {
        const next = await this.opts.reconnect!();
        await this.db.end?.().catch(() => {});
        this.db = next;
        this.log.info('reconnected to the database', { attempts: attempt + 1 });
        return;
      } catch (err) {
        this.log.warn('reconnect failed; retrying', { attempt: attempt + 1, error: errorMessage(err) });
      }
    }
  }
}
