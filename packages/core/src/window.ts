import { ConfigError } from './errors.js';
import { addDays, addMonths, thisDay } from './instants.js';

/** A half-open interval `[since, until)`: since is included, until is not. */
export interface Window {
  readonly since: Date;
  readonly until: Date;
}

export function window(since: Date, until: Date): Window {
  if (!(since.getTime() <= until.getTime())) {
    throw new ConfigError(`since (${since.toISOString()}) is after until (${until.toISOString()})`);
  }
  return { since, until };
}

export function contains(w: Window, at: Date): boolean {
  const t = at.getTime();
  return t >= w.since.getTime() && t < w.until.getTime();
}

/**
 * Parse an operator time expression with the units of the reference's `parse_date_param`, no
 * more: `Nd|Nday|Ndays` = UTC midnight of today − (N−1) days (so `1d` is today 00:00),
 * `Nm|Nmin|Nminute|Nminutes` = N minutes ago, `Nmo|Nmon|Nmonth|Nmonths` = N calendar months
 * before today's UTC midnight (a day the month lacks becomes its last day, as relativedelta does),
 * or an ISO date/datetime (naive means UTC). There are no hours or weeks, as in the reference.
 */
export function parseInstant(text: string, opts: { name?: string; now?: Date } = {}): Date {
  const name = opts.name ?? 'time';
  const at = opts.now ?? new Date();
  const s = text.trim();
  let m = /^(\d+)(d|day|days)$/.exec(s);
  if (m) return addDays(thisDay(at), -(Number(m[1]) - 1));
  m = /^(\d+)(m|min|minute|minutes)$/.exec(s);
  if (m) return new Date(at.getTime() - Number(m[1]) * 60_000);
  m = /^(\d+)(mo|mon|month|months)$/.exec(s);
  if (m) return addMonths(thisDay(at), -Number(m[1]));
  m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(s);
  if (m) {
    const [, y, mo, d, h = '0', mi = '0', sec = '0', frac = '', tz] = m;
    let ms = Date.UTC(+y!, +mo! - 1, +d!, +h, +mi, +sec, Math.floor(Number(`0.${frac || '0'}`) * 1000));
    const check = new Date(Date.UTC(+y!, +mo! - 1, +d!));
    if (check.getUTCMonth() !== +mo! - 1 || check.getUTCDate() !== +d! || +h > 23 || +mi > 59 || +sec > 59) {
      throw new ConfigError(`${name}: "${text}" is not a valid date`, { field: name });
    }
    if (tz && tz !== 'Z') {
      const t = /([+-])(\d{2}):?(\d{2})/.exec(tz)!;
      ms -= (t[1] === '-' ? -1 : 1) * (Number(t[2]) * 60 + Number(t[3])) * 60_000;
    }
    return new Date(ms);
  }
  throw new ConfigError(
    `${name}: "${text}" is not understood; expected N days (2d, 2day, 2days), N minutes (10m, 10min, 10minute, 10minutes), N months (3mo, 3mon, 3month, 3months), or an ISO date/datetime such as 2024-03-01 or 2024-03-01T12:00:00Z`,
    { field: name },
  );
}

/** Parse `--ephemeral`: `Nd|Nday|Ndays` → N days, `Nmo|Nmonth|Nmonths` → 30·N days. Returns days. */
export function parseEphemeralDays(text: string): number {
  let m = /^(\d+)(d|day|days)$/.exec(text.trim());
  if (m) return Number(m[1]);
  m = /^(\d+)(mo|month|months)$/.exec(text.trim());
  if (m) return 30 * Number(m[1]);
  throw new ConfigError(`--ephemeral: "${text}" is not understood; expected Nd or Nmo, e.g. 30d or 2mo`, {
    field: 'ephemeral',
  });
}

/** Cut a window at UTC midnights; a window inside one day gives one slice. */
export function dailySlices(w: Window): Window[] {
  const out: Window[] = [];
  let start = w.since;
  while (start.getTime() < w.until.getTime()) {
    const next = addDays(thisDay(start), 1);
    const end = next.getTime() < w.until.getTime() ? next : w.until;
    out.push({ since: start, until: end });
    start = end;
  }
  return out;
}

/** The calendar month `YYYY-MM` as a window. */
export function monthWindow(month: string): Window {
  const m = /^(\d{4})-(\d{2})$/.exec(month.trim());
  if (!m || +m[2]! < 1 || +m[2]! > 12) {
    throw new ConfigError(`--month: "${month}" is not understood; expected YYYY-MM, e.g. 2024-03`, { field: 'month' });
  }
  const since = new Date(Date.UTC(+m[1]!, +m[2]! - 1, 1));
  return { since, until: addMonths(since, 1) };
}
