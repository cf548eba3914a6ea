/**
 * UTC instants with the semantics of metrics-utility's `library.instants`.
 * `relativeTo` is used as given (not truncated), as in the reference.
 */
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export function now(): Date {
  return new Date();
}

export function thisMinute(at: Date = now()): Date {
  return new Date(Math.floor(at.getTime() / MINUTE) * MINUTE);
}
export function thisHour(at: Date = now()): Date {
  return new Date(Math.floor(at.getTime() / HOUR) * HOUR);
}
export function thisDay(at: Date = now()): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
}
/** Monday 00:00 UTC of the current week. */
export function thisWeek(at: Date = now()): Date {
  const day = thisDay(at);
  const sinceMonday = (day.getUTCDay() + 6) % 7;
  return new Date(day.getTime() - sinceMonday * DAY);
}
export function thisMonth(at: Date = now()): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
}

export function lastHour(relativeTo?: Date): Date {
  return hoursAgo(1, relativeTo);
}
export function lastDay(relativeTo?: Date): Date {
  return daysAgo(1, relativeTo);
}
export function lastWeek(relativeTo?: Date): Date {
  return weeksAgo(1, relativeTo);
}
export function lastMonth(relativeTo?: Date): Date {
  return monthsAgo(1, relativeTo);
}

export function minutesAgo(n: number, relativeTo?: Date): Date {
  return new Date((relativeTo ?? thisMinute()).getTime() - n * MINUTE);
}
export function hoursAgo(n: number, relativeTo?: Date): Date {
  return new Date((relativeTo ?? thisHour()).getTime() - n * HOUR);
}
export function daysAgo(n: number, relativeTo?: Date): Date {
  return new Date((relativeTo ?? thisDay()).getTime() - n * DAY);
}
export function weeksAgo(n: number, relativeTo?: Date): Date {
  return new Date((relativeTo ?? thisWeek()).getTime() - n * 7 * DAY);
}
/**
 * Whole calendar months back, keeping day and time of day. The reference fails
 * when the day does not exist in the target month; we clamp to its last day.
 */
export function monthsAgo(n: number, relativeTo?: Date): Date {
  return addMonths(relativeTo ?? thisMonth(), -n);
}

export function addMonths(at: Date, n: number): Date {
  const total = at.getUTCFullYear() * 12 + at.getUTCMonth() + n;
  const year = Math.floor(total / 12);
  const month = total - year * 12;
  const lastDayOfTarget = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const day = Math.min(at.getUTCDate(), lastDayOfTarget);
  return new Date(
    Date.UTC(year, month, day, at.getUTCHours(), at.getUTCMinutes(), at.getUTCSeconds(), at.getUTCMilliseconds()),
  );
}

export function addDays(at: Date, n: number): Date {
  return new Date(at.getTime() + n * DAY);
}

/** ISO-8601 with an explicit offset, e.g. `2025-01-15T12:30:45+00:00` (milliseconds kept when non-zero). */
export function iso(dt: Date): string {
  const s = dt.toISOString();
  const base = dt.getUTCMilliseconds() === 0 ? s.slice(0, 19) : s.slice(0, 23);
  return `${base}+00:00`;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `%Y-%m-%d-%H%M%S%z` as used in tarball names, e.g. `2024-03-11-075901+0000`. */
export function tarballStamp(dt: Date): string {
  return (
    `${dt.getUTCFullYear()}-${pad(dt.getUTCMonth() + 1)}-${pad(dt.getUTCDate())}-` +
    `${pad(dt.getUTCHours())}${pad(dt.getUTCMinutes())}${pad(dt.getUTCSeconds())}+0000`
  );
}

/** Parse the first `YYYY-MM-DD-HHMMSS±ZZZZ` stamp in a name (the reference's date_filter). */
export function parseTarballStamp(name: string): Date | undefined {
  const m = /\b(\d{4})-(\d{2})-(\d{2})-(\d{2})(\d{2})(\d{2})([-+])(\d{2})(\d{2})\b/.exec(name);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, sign, oh, om] = m;
  const utc = Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s!);
  const offset = (sign === '-' ? -1 : 1) * (+oh! * 60 + +om!) * MINUTE;
  return new Date(utc - offset);
}

/** Python `str(datetime)` for an aware UTC datetime: `2024-03-11 07:59:01.458923+00:00`; fraction omitted when zero. */
export function pythonDatetime(dt: Date, micros?: number): string {
  const base = dt.toISOString().slice(0, 19).replace('T', ' ');
  const us = micros ?? dt.getUTCMilliseconds() * 1000;
  return us === 0 ? `${base}+00:00` : `${base}.${pad(us, 6)}+00:00`;
}

/** `YYYY-MM-DD` of a UTC date. */
export function isoDate(dt: Date): string {
  return dt.toISOString().slice(0, 10);
}
