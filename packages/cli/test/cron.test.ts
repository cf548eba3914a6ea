import { ConfigError } from '@tally/core';
import { describe, expect, it } from 'vitest';
import { cronDue, cronMatches, nextCronTime, parseCron } from '../src/cron.js';

const at = (iso: string) => new Date(iso);

describe('parseCron', () => {
  it('expands stars, ranges, steps, lists and names', () => {
    const c = parseCron('*/15 9-17/4 1,15 jan-mar mon-fri');
    expect([...c.minutes]).toEqual([0, 15, 30, 45]);
    expect([...c.hours]).toEqual([9, 13, 17]);
    expect([...c.daysOfMonth]).toEqual([1, 15]);
    expect([...c.months]).toEqual([1, 2, 3]);
    expect([...c.daysOfWeek]).toEqual([1, 2, 3, 4, 5]);
  });

  it('treats 7 as Sunday and accepts @hourly-style aliases', () => {
    expect([...parseCron('0 0 * * 7').daysOfWeek]).toEqual([0]);
    expect([...parseCron('@hourly').minutes]).toEqual([0]);
    expect(parseCron('@daily').hours.has(0)).toBe(true);
  });

  it('rejects malformed expressions with a ConfigError naming the field', () => {
    expect(() => parseCron('* * * *')).toThrow(/expected 5 fields/);
    expect(() => parseCron('60 * * * *')).toThrow(/minute 60 is out of range 0-59/);
    expect(() => parseCron('* * * foo *')).toThrow(/month "foo"/);
    expect(() => parseCron('5-1 * * * *')).toThrow(/runs backwards/);
    expect(() => parseCron('*/0 * * * *')).toThrow(ConfigError);
  });
});

describe('cronMatches', () => {
  it('matches in UTC, minute by minute', () => {
    const c = parseCron('5 * * * *');
    expect(cronMatches(c, at('2024-03-11T07:05:59Z'))).toBe(true);
    expect(cronMatches(c, at('2024-03-11T07:06:00Z'))).toBe(false);
  });

  it('ORs day-of-month and day-of-week when both are restricted', () => {
    const c = parseCron('0 0 13 * fri');
    expect(cronMatches(c, at('2024-03-13T00:00:00Z'))).toBe(true); // a Wednesday the 13th
    expect(cronMatches(c, at('2024-03-15T00:00:00Z'))).toBe(true); // a Friday
    expect(cronMatches(c, at('2024-03-14T00:00:00Z'))).toBe(false);
    const onlyDow = parseCron('0 0 * * fri');
    expect(cronMatches(onlyDow, at('2024-03-13T00:00:00Z'))).toBe(false);
  });
});

describe('nextCronTime', () => {
  it('finds the next firing strictly after the given instant', () => {
    expect(nextCronTime(parseCron('*/10 * * * *'), at('2024-03-11T07:10:00Z')).toISOString()).toBe('2024-03-11T07:20:00.000Z');
    expect(nextCronTime(parseCron('0 2 1 * *'), at('2024-01-31T23:00:00Z')).toISOString()).toBe('2024-02-01T02:00:00.000Z');
    expect(nextCronTime(parseCron('0 0 29 2 *'), at('2024-03-01T00:00:00Z')).toISOString()).toBe('2028-02-29T00:00:00.000Z');
  });

  it('reports a schedule that never fires', () => {
    expect(() => nextCronTime(parseCron('0 0 31 2 *'), at('2024-01-01T00:00:00Z'))).toThrow(/never fires/);
  });
});

describe('cronDue', () => {
  const hourly = parseCron('0 * * * *');
  it('is due when never run, and once per missed tick window', () => {
    expect(cronDue(hourly, undefined, at('2024-03-11T07:30:00Z'))).toBe(true);
    expect(cronDue(hourly, at('2024-03-11T07:00:10Z'), at('2024-03-11T07:59:00Z'))).toBe(false);
    expect(cronDue(hourly, at('2024-03-11T07:00:10Z'), at('2024-03-11T08:00:00Z'))).toBe(true);
    // A runner that was down for hours runs the collector once when it comes back.
    expect(cronDue(hourly, at('2024-03-11T01:00:10Z'), at('2024-03-11T07:30:00Z'))).toBe(true);
  });
});
