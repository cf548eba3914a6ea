import { describe, expect, it } from 'vitest';
import { daysAgo, hoursAgo, iso, lastDay, lastHour, lastMonth, lastWeek, minutesAgo, monthsAgo, thisWeek, weeksAgo } from '@tally/core';

const d = (s: string) => new Date(s);

describe('instants (spec 7.1 vectors)', () => {
  it('matches every reference vector', () => {
    expect(lastHour(d('2025-01-15T12:00:00Z'))).toEqual(d('2025-01-15T11:00:00Z'));
    expect(lastDay(d('2025-01-15T00:00:00Z'))).toEqual(d('2025-01-14T00:00:00Z'));
    expect(lastWeek(d('2025-01-13T00:00:00Z'))).toEqual(d('2025-01-06T00:00:00Z'));
    expect(lastMonth(d('2025-03-01T00:00:00Z'))).toEqual(d('2025-02-01T00:00:00Z'));
    expect(lastMonth(d('2025-01-01T00:00:00Z'))).toEqual(d('2024-12-01T00:00:00Z'));
    expect(hoursAgo(3, d('2025-01-15T12:00:00Z'))).toEqual(d('2025-01-15T09:00:00Z'));
    expect(daysAgo(5, d('2025-01-15T00:00:00Z'))).toEqual(d('2025-01-10T00:00:00Z'));
    expect(weeksAgo(2, d('2025-01-20T00:00:00Z'))).toEqual(d('2025-01-06T00:00:00Z'));
    expect(monthsAgo(2, d('2025-05-01T00:00:00Z'))).toEqual(d('2025-03-01T00:00:00Z'));
    expect(monthsAgo(3, d('2025-02-01T00:00:00Z'))).toEqual(d('2024-11-01T00:00:00Z'));
    expect(minutesAgo(10, d('2025-01-15T12:30:00Z'))).toEqual(d('2025-01-15T12:20:00Z'));
  });
  it('keeps relativeTo untruncated and clamps months to the last day', () => {
    expect(daysAgo(5, d('2025-01-15T12:34:00Z'))).toEqual(d('2025-01-10T12:34:00Z'));
    expect(monthsAgo(1, d('2025-03-31T10:00:00Z'))).toEqual(d('2025-02-28T10:00:00Z'));
    expect(monthsAgo(1, d('2024-03-31T00:00:00Z'))).toEqual(d('2024-02-29T00:00:00Z'));
  });
  it('thisWeek is Monday 00:00 UTC and iso has an offset', () => {
    expect(thisWeek(d('2025-01-19T23:59:00Z'))).toEqual(d('2025-01-13T00:00:00Z'));
    expect(thisWeek(d('2025-01-13T00:00:00Z'))).toEqual(d('2025-01-13T00:00:00Z'));
    expect(iso(d('2025-01-15T12:30:45Z'))).toBe('2025-01-15T12:30:45+00:00');
  });
});
