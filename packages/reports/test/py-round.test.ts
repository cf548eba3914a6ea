import { describe, expect, it } from 'vitest';
import { pyRound } from '../src/py-round.js';
import { PY_ROUND_CASES } from './py-round-cases.js';

/** A float as Python's repr wrote it (`nan`, `inf` included). */
const float = (s: string): number => (s === 'nan' ? Number.NaN : s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s));

/**
 * round(x, n) by exact rational arithmetic, sharing no code with pyRound (no toFixed): x = m·2^e
 * exactly, so x·10^n = m·10^n·2^e; round that to an integer, ties to even, and read the decimal back.
 */
function exactRound(x: number, n: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const biased = Number(bits >> 52n);
  const mantissa = (bits & ((1n << 52n) - 1n)) | (biased ? 1n << 52n : 0n);
  const e = (biased || 1) - 1075;
  const num = mantissa * 10n ** BigInt(n) * (e > 0 ? 1n << BigInt(e) : 1n);
  const den = e < 0 ? 1n << BigInt(-e) : 1n;
  let q = num / den;
  const twice = 2n * (num - q * den);
  if (twice > den || (twice === den && q % 2n === 1n)) q += 1n;
  const abs = Number(`${q}e-${n}`);
  return x < 0 ? -abs : abs;
}

/** A seeded stream of doubles (xorshift64*): random bit patterns, and prices with three decimals. */
function* seededDoubles(seed: bigint, count: number): Generator<number> {
  let s = seed;
  const view = new DataView(new ArrayBuffer(8));
  for (let i = 0; i < count; i++) {
    s ^= s >> 12n;
    s ^= (s << 25n) & 0xffffffffffffffffn;
    s ^= s >> 27n;
    const r = (s * 0x2545f4914f6cdd1dn) & 0xffffffffffffffffn;
    view.setBigUint64(0, r);
    const x = view.getFloat64(0);
    yield i % 2 ? x : Number((r % 10_000_000n).toString()) / 1000;
  }
}

describe('pyRound', () => {
  it(`gives CPython's round(x, n) on all ${PY_ROUND_CASES.length} cases of the table python3 made`, () => {
    const wrong = PY_ROUND_CASES.filter(([x, n, want]) => !Object.is(pyRound(float(x), n), float(want)));
    expect(wrong).toEqual([]);
  });

  it('the audit cases: ties at two decimals go to the even cent, near-ties to the binary value', () => {
    expect([11.555, 2.675, 0.125, 1.115, 10.125, 11.545, 0.375, -0.125].map((x) => pyRound(x, 2))).toEqual([11.55, 2.67, 0.12, 1.11, 10.12, 11.54, 0.38, -0.12]);
    expect([0.5, 1.5, 2.5, -2.5].map((x) => pyRound(x, 0))).toEqual([0, 2, 2, -2]);
    // What Tally wrote before: half up on x·100, a cent more on 11.555 and 0.125.
    expect([11.555, 0.125].map((x) => Math.round(x * 100) / 100)).toEqual([11.56, 0.13]);
  });

  it('keeps the sign of a zero result, and NaN, infinities and huge values as they are', () => {
    expect(Object.is(pyRound(-0.001, 2), -0)).toBe(true);
    expect(Object.is(pyRound(-0, 2), -0)).toBe(true);
    expect(pyRound(Number.NaN, 2)).toBeNaN();
    expect(pyRound(-Infinity, 2)).toBe(-Infinity);
    expect(pyRound(2 ** 53 + 2, 0)).toBe(2 ** 53 + 2);
  });

  it('agrees with exact rational rounding on 20,000 seeded doubles at 0 to 17 digits', () => {
    const wrong: [number, number, number, number][] = [];
    let i = 0;
    for (const x of seededDoubles(0x9e3779b97f4a7c15n, 20_000)) {
      const n = i++ % 18;
      const got = pyRound(x, n);
      const want = exactRound(x, n);
      if (!Object.is(got, want)) wrong.push([x, n, got, want]);
    }
    expect(wrong).toEqual([]);
  });

  it('agrees with exact rational rounding on every odd multiple of 1/8 below 1000 (the two-decimal ties) and their neighbours', () => {
    const wrong: number[] = [];
    for (let k = 1; k < 8000; k += 2) {
      for (const x of [k / 8, -k / 8]) {
        const below = x - Number.EPSILON * Math.abs(x);
        for (const y of [x, below]) if (!Object.is(pyRound(y, 2), exactRound(y, 2))) wrong.push(y);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('refuses a number of digits it does not handle', () => {
    expect(() => pyRound(1, -1)).toThrow(RangeError);
    expect(() => pyRound(1, 1.5)).toThrow(RangeError);
    expect(() => pyRound(1, 101)).toThrow(RangeError);
  });
});
