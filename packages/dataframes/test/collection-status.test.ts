import { type CollectionStatusRow, collectionGaps, collectionTimings } from '@tally/dataframes';
import { statusRow } from '../src/collection-status.js';
import { describe, expect, it } from 'vitest';

const at = (s: string) => new Date(`2024-07-${s}Z`);
const us = (s: string) => at(s).getTime() * 1000;
const row = (file: string | null, since: string, until: string, status = 'ok', start = until): CollectionStatusRow =>
  statusRow({ collectionStartUs: us(start), sinceUs: us(since), untilUs: us(until), fileName: file, status, elapsed: 1 });

describe('collectionGaps (the reference _build_data_section_collection_missing)', () => {
  const start = at('01T00:00:00');
  const end = at('31T00:00:00');

  it('a file collected over the whole period has no gap; a missing file has none either', () => {
    expect(collectionGaps([row('a.csv', '01T00:00:00', '31T00:00:00')], start, end)).toEqual([]);
    expect(collectionGaps([], start, end)).toEqual([]);
  });

  it('gaps at the start, between intervals and at the end; failed collections do not cover', () => {
    const rows = [
      row('a.csv', '02T00:00:00', '05T00:00:00'),
      row('a.csv', '05T00:00:00', '09T00:00:00', 'failed'),
      row('a.csv', '09T00:00:00', '30T00:00:00'),
    ];
    expect(collectionGaps(rows, start, end).map((g) => [g.from.toISOString(), g.until.toISOString(), g.seconds])).toEqual([
      ['2024-07-01T00:00:00.000Z', '2024-07-02T00:00:00.000Z', 86_400],
      ['2024-07-05T00:00:00.000Z', '2024-07-09T00:00:00.000Z', 4 * 86_400],
      ['2024-07-30T00:00:00.000Z', '2024-07-31T00:00:00.000Z', 86_400],
    ]);
  });

  it('microseconds count, as pandas counts them', () => {
    const rows = [
      statusRow({ collectionStartUs: null, sinceUs: us('01T00:00:00'), untilUs: us('10T00:00:00') + 1, fileName: 'a.csv', status: 'ok', elapsed: null }),
      statusRow({ collectionStartUs: null, sinceUs: us('10T00:00:03') + 529_347, untilUs: us('31T00:00:00'), fileName: 'a.csv', status: 'ok', elapsed: null }),
    ];
    expect(collectionGaps(rows, start, end).map((g) => g.seconds)).toEqual([3.529346]);
  });

  it('gaps of at most 2 seconds are not gaps; 2.5 s is', () => {
    const rows = [row('a.csv', '01T00:00:00', '10T00:00:00'), row('a.csv', '10T00:00:02', '20T00:00:00'), row('a.csv', '20T00:00:02.500', '31T00:00:00')];
    expect(collectionGaps(rows, start, end).map((g) => g.seconds)).toEqual([2.5]);
  });

  it('as the reference, only the next interval by since is compared (an enclosing interval does not hide a later gap)', () => {
    const rows = [row('a.csv', '01T00:00:00', '31T00:00:00'), row('a.csv', '02T00:00:00', '03T00:00:00'), row('a.csv', '05T00:00:00', '06T00:00:00')];
    expect(collectionGaps(rows, start, end).map((g) => [g.from.getUTCDate(), g.until.getUTCDate()])).toEqual([
      [3, 5],
      [6, 31],
    ]);
  });

  it('rows without a file name are ignored', () => {
    expect(collectionGaps([row(null, '05T00:00:00', '06T00:00:00')], start, end)).toEqual([]);
  });
});

describe('collectionTimings (the reference _build_data_section_collection_status)', () => {
  it('time since the previous collection of the same file, rows by collection start, median of the times', () => {
    const rows = [
      row('b.csv', '01T00:00:00', '02T00:00:00', 'ok', '02T01:00:00'),
      row('a.csv', '01T00:00:00', '02T00:00:00', 'ok', '02T00:00:00'),
      row('a.csv', '02T00:00:00', '03T00:00:00', 'ok', '03T00:00:00'),
      row('b.csv', '02T00:00:00', '03T00:00:00', 'ok', '05T01:00:00'),
    ];
    const { timings, medianUs } = collectionTimings(rows);
    expect(timings.map((t) => [t.row.fileName, t.sincePreviousUs])).toEqual([
      ['a.csv', null],
      ['b.csv', null],
      ['a.csv', 86_400e6],
      ['b.csv', 3 * 86_400e6],
    ]);
    expect(medianUs).toBe(2 * 86_400e6);
    expect(collectionTimings([]).medianUs).toBeNull();
  });

  it('the median of an even count is truncated to whole µs, as pandas 3 gives it', () => {
    // Times a.csv 1 h, 1 h + 1 µs, 1 h + 2 µs and b.csv 2 h + 2 µs. The reference's steps in pandas 3.0.6
    // (to_datetime(format='ISO8601') gives datetime64[us]; diff; median) give 0 days 01:00:00.000001 and
    // fill b.csv's 2 h + 2 µs yellow (>= 2 × median); the exact mean, 1 h + 1.5 µs, would leave it green.
    const h = 3_600e6;
    const at = (file: string, startUs: number) => statusRow({ collectionStartUs: startUs, sinceUs: 0, untilUs: 0, fileName: file, status: 'ok', elapsed: 1 });
    const rows = [at('a.csv', 0), at('a.csv', h), at('a.csv', 2 * h + 1), at('a.csv', 3 * h + 3), at('b.csv', 0), at('b.csv', 2 * h + 2)];
    const { timings, medianUs } = collectionTimings(rows);
    expect(timings.map((t) => t.sincePreviousUs).filter((d) => d !== null)).toEqual([h, h + 1, 2 * h + 2, h + 2]);
    expect(medianUs).toBe(h + 1);
    expect(2 * h + 2 >= 2 * medianUs!).toBe(true);
  });
});
