import { CollectorsFile, type CollectorsDocument } from '@tally/core';
import type { ScheduledCollector, ScheduleRow, ScheduleStore } from './schedule-store.js';

type Stored = Omit<ScheduleRow, 'watermark' | 'leaseUntil' | 'heartbeatAt' | 'lastRunAt' | 'lastSuccessAt'> & {
  watermark: string | null;
  leaseUntil: string | null;
  heartbeatAt: string | null;
  lastRunAt: string | null;
  lastSuccessAt: string | null;
};
type FileShape = CollectorsDocument<Stored>;

const date = (v: string | null) => (v === null ? null : new Date(v));
const toRow = (s: Stored): ScheduleRow => ({
  ...s,
  watermark: date(s.watermark),
  leaseUntil: date(s.leaseUntil),
  heartbeatAt: date(s.heartbeatAt),
  lastRunAt: date(s.lastRunAt),
  lastSuccessAt: date(s.lastSuccessAt),
});

/**
 * The scheduler's run state in a JSON file, with the same rules as the table
 * (schedule-store.ts). Only the holder of the schedule's file lock writes it;
 * every write replaces the file atomically, so `tally status` reads a whole one.
 */
export class FileScheduleStore implements ScheduleStore {
  private readonly file: CollectorsFile<Stored>;

  constructor(readonly path: string) {
    this.file = new CollectorsFile(path, 'schedule state file');
  }

  private load(): Promise<FileShape | undefined> {
    return this.file.read();
  }

  private update<T>(fn: (s: FileShape) => T): Promise<T> {
    return this.file.update(fn);
  }

  /** Change the row of `key` when `runner` holds it (as the table's `WHERE collector = $1 AND runner = $2`). */
  private held(key: string, runner: string, fn: (r: Stored) => void): Promise<void> {
    return this.update((s) => {
      const r = s.collectors[key];
      if (r && r.runner === runner) fn(r);
    });
  }

  async ensure(): Promise<void> {
    if (!(await this.load())) await this.update(() => {});
  }

  declare(collectors: readonly ScheduledCollector[]): Promise<void> {
    return this.update((s) => {
      for (const c of collectors) {
        const prev = s.collectors[c.key];
        s.collectors[c.key] = prev
          ? { ...prev, cron: c.cron, dependsOn: [...c.dependsOn], enabled: c.enabled }
          : {
              key: c.key, cron: c.cron, dependsOn: [...c.dependsOn], enabled: c.enabled, runState: 'PENDING', dataState: 'EMPTY',
              watermark: null, runner: null, leaseUntil: null, heartbeatAt: null, lastRunAt: null, lastSuccessAt: null, lastError: '', consecutiveFailures: 0,
            };
      }
    });
  }

  async read(): Promise<ScheduleRow[] | undefined> {
    const s = await this.load();
    return s && Object.values(s.collectors).map(toRow).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  claim(key: string, runner: string, leaseSeconds: number): Promise<ScheduleRow | undefined> {
    return this.update((s) => {
      const r = s.collectors[key];
      const now = Date.now();
      if (!r?.enabled) return undefined;
      const free = r.runState !== 'RUNNING' || !r.leaseUntil || Date.parse(r.leaseUntil) < now || r.runner === runner;
      if (!free) return undefined;
      Object.assign(r, { runState: 'RUNNING', runner, leaseUntil: new Date(now + leaseSeconds * 1000).toISOString(), heartbeatAt: new Date(now).toISOString() });
      return toRow(r);
    });
  }

  heartbeat(key: string, runner: string, leaseSeconds: number): Promise<boolean> {
    return this.update((s) => {
      const r = s.collectors[key];
      if (!r || r.runner !== runner || r.runState !== 'RUNNING') return false;
      const now = Date.now();
      r.leaseUntil = new Date(now + leaseSeconds * 1000).toISOString();
      r.heartbeatAt = new Date(now).toISOString();
      return true;
    });
  }

  markBlocked(key: string, runner: string, reason: string, at: Date): Promise<void> {
    return this.held(key, runner, (r) => Object.assign(r, { runState: 'BLOCKED', runner: null, leaseUntil: null, lastRunAt: at.toISOString(), lastError: reason }));
  }

  markStarted(key: string, runner: string, at: Date): Promise<void> {
    return this.held(key, runner, (r) => {
      r.lastRunAt = at.toISOString();
    });
  }

  markSucceeded(key: string, runner: string, result: { watermark: Date; complete: boolean }): Promise<void> {
    return this.held(key, runner, (r) => {
      // The watermark only moves forward.
      const mark = r.watermark && Date.parse(r.watermark) > result.watermark.getTime() ? r.watermark : result.watermark.toISOString();
      Object.assign(r, {
        runState: 'READY', runner: null, leaseUntil: null, lastSuccessAt: new Date().toISOString(), lastError: '', consecutiveFailures: 0,
        watermark: mark, dataState: result.complete ? 'COMPLETE' : 'PARTIAL',
      });
    });
  }

  markFailed(key: string, runner: string, error: string): Promise<void> {
    return this.held(key, runner, (r) => {
      Object.assign(r, { runState: 'READY', runner: null, leaseUntil: null, lastError: error, consecutiveFailures: r.consecutiveFailures + 1 });
    });
  }
}
