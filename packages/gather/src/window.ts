import { ConfigError, type Logger, type Window, addDays, dailySlices, silentLogger } from '@tally/core';
import type { Slicing } from '@tally/collectors';

export const DEFAULT_MAX_GATHER_PERIOD_DAYS = 28;

export interface ResolveWindowInput {
  since?: Date;
  until?: Date;
  now: Date;
  /** METRICS_UTILITY_MAX_GATHER_PERIOD_DAYS (default 28; 0 leaves windowed collectors nothing to gather, as the reference). */
  maxDays?: number;
  logger?: Logger;
}

export interface ResolvedWindow {
  /** Set only when the caller asked for a start: then per-key watermarks are not used. */
  since?: Date;
  until: Date;
  /** `until − maxDays`: nothing older is gathered. */
  horizon: Date;
  /** One line per adjustment made to the requested window. */
  notes: string[];
}

const show = (d: Date) => d.toISOString();

/**
 * The reference's interval rules: future instants become now; with a since,
 * until defaults to `min(since + max, now)` and is capped at `since + max`;
 * since after until is an error; a since older than `until − max` is raised to it.
 * Every shortening is logged.
 */
export function resolveWindow(input: ResolveWindowInput): ResolvedWindow {
  const log = input.logger ?? silentLogger;
  const maxDays = input.maxDays ?? DEFAULT_MAX_GATHER_PERIOD_DAYS;
  if (!Number.isInteger(maxDays) || maxDays < 0) {
    throw new ConfigError(`max gather period ${maxDays} is not a whole number of days`, { field: 'METRICS_UTILITY_MAX_GATHER_PERIOD_DAYS' });
  }
  const notes: string[] = [];
  const note = (msg: string) => {
    notes.push(msg);
    log.warn(msg);
  };
  const now = input.now;
  let since = input.since;
  let until = input.until;
  if (until && until.getTime() > now.getTime()) {
    note(`until ${show(until)} is in the future; using now (${show(now)})`);
    until = now;
  }
  if (since && since.getTime() > now.getTime()) {
    note(`since ${show(since)} is in the future; using now (${show(now)})`);
    since = now;
  }
  if (since) {
    const cap = addDays(since, maxDays);
    if (!until) until = cap.getTime() < now.getTime() ? cap : now;
    else if (until.getTime() > cap.getTime()) {
      note(`window shortened: until ${show(until)} is more than ${maxDays} days after since; using ${show(cap)}`);
      until = cap;
    }
    if (since.getTime() > until.getTime()) {
      throw new ConfigError(`since (${show(since)}) is after until (${show(until)})`, { field: 'since' });
    }
  }
  until ??= now;
  const horizon = addDays(until, -maxDays);
  if (since && since.getTime() < horizon.getTime()) {
    note(`window shortened: since ${show(since)} is more than ${maxDays} days before until; using ${show(horizon)}`);
    since = horizon;
  }
  const out: ResolvedWindow = { until, horizon, notes };
  if (since) out.since = since;
  return out;
}

/**
 * The slice of a `limit` (snapshot) collector, as the newest reference's `until_slicing`:
 * one instant, the window's last second (`until − 1 s`, both ends), whatever the start.
 * It names the tarball, its `data/YYYY/MM/DD/` folder and the status row, so a
 * snapshot taken up to a midnight lands in the day that ends there.
 */
export function snapshotSlice(w: Window): Window {
  const at = new Date(w.until.getTime() - 1000);
  return { since: at, until: at };
}

/** Cut a collector's window by its slicing; an empty window gives no slices. */
export function sliceWindow(slicing: Slicing, w: Window): Window[] {
  if (w.since.getTime() >= w.until.getTime()) return [];
  if (slicing === 'daily') return dailySlices(w);
  if (slicing === 'limit') return [snapshotSlice(w)];
  return slicing(w).filter((s) => s.since.getTime() < s.until.getTime());
}
