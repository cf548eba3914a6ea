import { ConfigError } from '@tally/core';

/**
 * A parsed 5-field cron expression (`minute hour day-of-month month day-of-week`),
 * evaluated in UTC. Supports `*`, numbers, ranges `a-b`, steps `*\/n` and `a-b/n`,
 * lists `a,b`, month and weekday names (`jan`, `mon`) and `7` for Sunday.
 */
export interface CronSchedule {
  readonly source: string;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly daysOfMonth: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  readonly daysOfWeek: ReadonlySet<number>;
  /** Whether the day-of-month / day-of-week field was `*` (cron ORs the two when both are restricted). */
  readonly anyDayOfMonth: boolean;
  readonly anyDayOfWeek: boolean;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
  /** Offset added to a name's index (months are 1-based). */
  nameBase?: number;
}

const FIELDS: FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, nameBase: 1 },
  { name: 'day of week', min: 0, max: 7, names: DAYS, nameBase: 0 },
];

const ALIASES: Record<string, string> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
};

function parseValue(text: string, spec: FieldSpec, expr: string): number {
  const lower = text.toLowerCase();
  const named = spec.names?.indexOf(lower) ?? -1;
  if (named >= 0) return named + (spec.nameBase ?? 0);
  if (!/^\d+$/.test(text)) {
    throw new ConfigError(`cron "${expr}": ${spec.name} "${text}" is not a number${spec.names ? ' or a name' : ''}`, { field: 'cron' });
  }
  const n = Number(text);
  if (n < spec.min || n > spec.max) {
    throw new ConfigError(`cron "${expr}": ${spec.name} ${n} is out of range ${spec.min}-${spec.max}`, { field: 'cron' });
  }
  return n;
}

function parseField(text: string, spec: FieldSpec, expr: string): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^([^/]+)(?:\/(\d+))?$/.exec(part);
    if (!m) throw new ConfigError(`cron "${expr}": ${spec.name} "${part}" is not understood`, { field: 'cron' });
    const step = m[2] === undefined ? 1 : Number(m[2]);
    if (step < 1) throw new ConfigError(`cron "${expr}": ${spec.name} step must be at least 1`, { field: 'cron' });
    let lo: number;
    let hi: number;
    if (m[1] === '*') {
      lo = spec.min;
      hi = spec.max;
    } else if (m[1]!.includes('-')) {
      const [a, b, ...rest] = m[1]!.split('-');
      if (rest.length || a === undefined || b === undefined) {
        throw new ConfigError(`cron "${expr}": ${spec.name} range "${m[1]}" is not understood`, { field: 'cron' });
      }
      lo = parseValue(a, spec, expr);
      hi = parseValue(b, spec, expr);
      if (lo > hi) throw new ConfigError(`cron "${expr}": ${spec.name} range ${m[1]} runs backwards`, { field: 'cron' });
    } else {
      lo = parseValue(m[1]!, spec, expr);
      // `5/15` means "from 5, every 15", as in Vixie cron.
      hi = m[2] === undefined ? lo : spec.max;
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

/** Parse a cron expression; throws a ConfigError (exit code 2) naming the bad field. */
export function parseCron(expression: string): CronSchedule {
  const source = expression.trim();
  const expanded = ALIASES[source.toLowerCase()] ?? source;
  const parts = expanded.split(/\s+/).filter(Boolean);
  if (parts.length !== 5) {
    throw new ConfigError(`cron "${expression}": expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`, {
      field: 'cron',
    });
  }
  const [minutes, hours, daysOfMonth, months, daysOfWeek] = parts.map((p, i) => parseField(p, FIELDS[i]!, expression)) as [
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
  ];
  if (daysOfWeek.delete(7)) daysOfWeek.add(0);
  return {
    source,
    minutes,
    hours,
    daysOfMonth,
    months,
    daysOfWeek,
    anyDayOfMonth: parts[2]!.startsWith('*'),
    anyDayOfWeek: parts[4]!.startsWith('*'),
  };
}

function dayMatches(c: CronSchedule, at: Date): boolean {
  const dom = c.daysOfMonth.has(at.getUTCDate());
  const dow = c.daysOfWeek.has(at.getUTCDay());
  // Vixie cron: when both day fields are restricted, either may match.
  if (!c.anyDayOfMonth && !c.anyDayOfWeek) return dom || dow;
  return dom && dow;
}

/** Whether the minute containing `at` (UTC) is one the schedule fires in. */
export function cronMatches(c: CronSchedule, at: Date): boolean {
  return (
    c.minutes.has(at.getUTCMinutes()) && c.hours.has(at.getUTCHours()) && c.months.has(at.getUTCMonth() + 1) && dayMatches(c, at)
  );
}

/** The first minute strictly after `after` at which the schedule fires (searches up to 5 years). */
export function nextCronTime(c: CronSchedule, after: Date): Date {
  let t = Math.floor(after.getTime() / 60_000) * 60_000 + 60_000;
  const limit = t + 5 * 366 * 24 * 60 * 60_000;
  while (t < limit) {
    const d = new Date(t);
    if (!c.months.has(d.getUTCMonth() + 1)) {
      t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    } else if (!dayMatches(c, d)) {
      t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
    } else if (!c.hours.has(d.getUTCHours())) {
      t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours() + 1);
    } else if (!c.minutes.has(d.getUTCMinutes())) {
      t += 60_000;
    } else {
      return d;
    }
  }
  throw new ConfigError(`cron "${c.source}" never fires (e.g. 31 February)`, { field: 'cron' });
}

/**
 * Whether a collector last started at `lastRun` is due at `now`: the schedule
 * fired in `(lastRun, now]` (a tick missed while no runner was up still counts,
 * once), or it never ran at all (as OSIDB's `is_due`).
 */
export function cronDue(c: CronSchedule, lastRun: Date | undefined, now: Date): boolean {
  if (lastRun === undefined) return true;
  const since = lastRun;
  const until = now;
  if (since.getTime() >= until.getTime()) return false;
  try {
    return nextCronTime(c, since).getTime() <= until.getTime();
  } catch {
    return false;
  }
}
