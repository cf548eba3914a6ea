import { describe, expect, it } from 'vitest';
import { ConfigError, dailySlices, monthWindow, parseEphemeralDays, parseInstant } from '@tally/core';
import { window } from '../src/window.js';

const now = new Date('2024-03-15T13:45:10Z');

describe('parseInstant', () => {
  it('reads Nd as UTC midnight of today − (N−1) days', () => {
    expect(parseInstant('1d', { now })).toEqual(new Date('2024-03-15T00:00:00Z'));
    expect(parseInstant('3d', { now })).toEqual(new Date('2024-03-13T00:00:00Z'));
  });
  it('reads Nm as minutes and Nmo/Nmonth(s) as months at midnight', () => {
    expect(parseInstant('10m', { now })).toEqual(new Date('2024-03-15T13:35:10Z'));
    expect(parseInstant('2mo', { now })).toEqual(new Date('2024-01-15T00:00:00Z'));
    expect(parseInstant('1month', { now })).toEqual(new Date('2024-02-15T00:00:00Z'));
    expect(parseInstant('3months', { now })).toEqual(new Date('2023-12-15T00:00:00Z'));
  });
  it('reads every spelling of the reference parse_date_param, and no other unit', () => {
    for (const t of ['3d', '3day', '3days']) expect(parseInstant(t, { now }), t).toEqual(new Date('2024-03-13T00:00:00Z'));
    for (const t of ['10m', '10min', '10minute', '10minutes']) expect(parseInstant(t, { now }), t).toEqual(new Date('2024-03-15T13:35:10Z'));
    for (const t of ['2mo', '2mon', '2month', '2months']) expect(parseInstant(t, { now }), t).toEqual(new Date('2024-01-15T00:00:00Z'));
    // relativedelta(months=N): a day the target month lacks becomes its last day.
    expect(parseInstant('1mon', { now: new Date('2024-03-31T10:00:00Z') })).toEqual(new Date('2024-02-29T00:00:00Z'));
    expect(parseInstant('3months', { now: new Date('2023-05-31T23:59:00Z') })).toEqual(new Date('2023-02-28T00:00:00Z'));
    expect(parseInstant('13mo', { now: new Date('2024-01-31T00:00:00Z') })).toEqual(new Date('2022-12-31T00:00:00Z'));
    for (const t of ['2h', '2hours', '1w', '1week', '2D', '2 days', '2dayss', '5', 'mo', '2mins']) {
      expect(() => parseInstant(t, { name: '--since', now }), t).toThrow(/is not understood; expected N days \(2d, 2day, 2days\)/);
    }
  });
  it('reads ISO dates and datetimes, naive as UTC, offsets honoured', () => {
    expect(parseInstant('2024-03-01')).toEqual(new Date('2024-03-01T00:00:00Z'));
    expect(parseInstant('2024-03-01T12:30')).toEqual(new Date('2024-03-01T12:30:00Z'));
    expect(parseInstant('2024-03-01 12:30:05.25')).toEqual(new Date('2024-03-01T12:30:05.250Z'));
    expect(parseInstant('2024-03-01T12:30:00+02:00')).toEqual(new Date('2024-03-01T10:30:00Z'));
    expect(parseInstant('2024-03-01T12:30:00Z')).toEqual(new Date('2024-03-01T12:30:00Z'));
  });
  it('rejects anything else with a clear error naming the option', () => {
    expect(() => parseInstant('yesterday', { name: '--since' })).toThrow(ConfigError);
    expect(() => parseInstant('yesterday', { name: '--since' })).toThrow(/--since: "yesterday" is not understood; expected N days/);
    expect(() => parseInstant('2024-02-30')).toThrow(/not a valid date/);
    expect(() => parseInstant('2024-13-01')).toThrow(/not a valid date/);
  });
});

describe('windows', () => {
  it('refuses since after until', () => {
    expect(() => window(new Date('2024-03-02Z'), new Date('2024-03-01Z'))).toThrow(/after until/);
  });
  it('slices at UTC midnights, half-open, losing no instant', () => {
    const s = dailySlices({ since: new Date('2024-03-01T10:00:00Z'), until: new Date('2024-03-03T05:00:00Z') });
    expect(s.map((w) => [w.since.toISOString(), w.until.toISOString()])).toEqual([
      ['2024-03-01T10:00:00.000Z', '2024-03-02T00:00:00.000Z'],
      ['2024-03-02T00:00:00.000Z', '2024-03-03T00:00:00.000Z'],
      ['2024-03-03T00:00:00.000Z', '2024-03-03T05:00:00.000Z'],
    ]);
    expect(dailySlices({ since: new Date('2024-03-01Z'), until: new Date('2024-03-01Z') })).toEqual([]);
    expect(dailySlices({ since: new Date('2024-03-01Z'), until: new Date('2024-03-02Z') })).toHaveLength(1);
  });
  it('month windows and ephemeral periods', () => {
    expect(monthWindow('2024-02')).toEqual({ since: new Date('2024-02-01Z'), until: new Date('2024-03-01Z') });
    expect(monthWindow('2024-12').until).toEqual(new Date('2025-01-01Z'));
    expect(() => monthWindow('2024-13')).toThrow(/expected YYYY-MM/);
    expect(parseEphemeralDays('30d')).toBe(30);
    expect(parseEphemeralDays('2mo')).toBe(60);
    expect(parseEphemeralDays('1month')).toBe(30);
    expect(() => parseEphemeralDays('2w')).toThrow(/expected Nd or Nmo/);
  });
});
