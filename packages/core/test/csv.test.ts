import { parseCsv, parseCsvRows } from '@tally/core';
import { describe, expect, it } from 'vitest';

describe('parseCsv', () => {
  it('keeps quoted commas, line breaks and doubled quotes; an unquoted empty field is null, a quoted one empty', () => {
    expect(parseCsv('id,note,x\r\n1,"a,b\nc ""q""",\n2,"",z')).toEqual([
      ['id', 'note', 'x'],
      ['1', 'a,b\nc "q"', null],
      ['2', '', 'z'],
    ]);
    expect(parseCsv('')).toEqual([]);
  });
});

describe('parseCsvRows', () => {
  it('handles quotes, empty values, a missing final newline and an empty input', () => {
    expect(parseCsvRows('a,b\n"x,y",\n""," z"')).toEqual([
      { a: 'x,y', b: null },
      { a: '', b: ' z' },
    ]);
    expect(parseCsvRows('')).toEqual([]);
    expect(parseCsvRows('a,b\n')).toEqual([]);
    expect(() => parseCsvRows('a\n"open')).toThrow(/quoted/);
  });
});
