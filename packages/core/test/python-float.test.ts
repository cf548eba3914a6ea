import { pythonFloat, pythonJson } from '@tally/core';
import { describe, expect, it } from 'vitest';

// Expected texts are Python 3's repr(float) (which json.dumps writes), worked out by its rule:
// the shortest round-trip digits, exponent form when the point falls past 16 digits or below 1e-4.
describe('pythonFloat', () => {
  it('integral floats keep ".0" up to 16 digits, then switch to an exponent with a sign and two digits', () => {
    expect(pythonFloat(4)).toBe('4.0');
    expect(pythonFloat(100)).toBe('100.0');
    expect(pythonFloat(1e15)).toBe('1000000000000000.0');
    expect(pythonFloat(1e16)).toBe('1e+16');
    expect(pythonFloat(1.5e16)).toBe('1.5e+16');
    expect(pythonFloat(12345678901234567000)).toBe('1.2345678901234567e+19');
    expect(pythonFloat(1.5e300)).toBe('1.5e+300');
  });

  it('small floats: fixed down to 1e-4, exponent below', () => {
    expect(pythonFloat(0.0001)).toBe('0.0001');
    expect(pythonFloat(0.00001)).toBe('1e-05');
    expect(pythonFloat(1.5e-7)).toBe('1.5e-07');
    expect(pythonFloat(5e-324)).toBe('5e-324');
    expect(pythonFloat(0.1 + 0.2)).toBe('0.30000000000000004');
    expect(pythonFloat(-123.456)).toBe('-123.456');
  });

  it('zero, negative zero, NaN and infinities as json.dumps writes them', () => {
    expect(pythonFloat(0)).toBe('0.0');
    expect(pythonFloat(-0)).toBe('-0.0');
    expect(pythonFloat(Number.NaN)).toBe('NaN');
    expect(pythonFloat(Number.POSITIVE_INFINITY)).toBe('Infinity');
    expect(pythonFloat(Number.NEGATIVE_INFINITY)).toBe('-Infinity');
  });

  it('pythonJson: bigints as exact ints, non-integral numbers as floats, DEL escaped', () => {
    expect(pythonJson([123456789012345678901234567890n, 0.00001, 2.5, 3])).toBe('[123456789012345678901234567890, 1e-05, 2.5, 3]');
    expect(pythonJson('a\u007fb')).toBe('"a\\u007fb"');
  });
});
