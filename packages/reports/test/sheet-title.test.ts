import { sheetTitle } from '../src/sheet.js';
import { describe, expect, it } from 'vitest';

describe('sheetTitle', () => {
  it('makes organization names valid, unique Excel sheet titles', () => {
    const taken = new Set(['usage reporting']);
    expect(sheetTitle('Default', taken)).toBe('Default');
    expect(sheetTitle('R&D / Ops: EMEA [prod]?', taken)).toBe('R&D _ Ops_ EMEA _prod__');
    const long = 'An organization with a name far longer than Excel allows';
    expect(sheetTitle(long, taken)).toBe(long.slice(0, 31));
    expect(sheetTitle(long, taken)).toBe(`${long.slice(0, 27)} (1)`);
    expect(sheetTitle('usage reporting', taken)).toBe('usage reporting (1)');
    expect(sheetTitle('DEFAULT', taken)).toBe('DEFAULT (1)'); // Excel compares titles case-insensitively
  });
});
