import { ConfigError, loadConfig } from '@tally/core';
import { describe, expect, it } from 'vitest';

/**
 * [METRICS_UTILITY_PRICE_PER_NODE text, repr(float(text)) or null where float() raises ValueError],
 * as CPython 3.11.7 on this machine gave them: `python3 gen_float.py`, where gen_float.py is
 *
 *   import json
 *   inputs = ['11.555', '12', '1e1', '1E-2', ' 11.5 ', '\t11.5\n', '\x0b11.5\x0c', '11,5', '11.5.0', 'nan', 'NaN', '-nan', 'inf', '-inf', '+Infinity',
 *             'iNfInItY', 'infinit', '-5', '+5', '-0', '5.', '.5', '.', 'e5', '1e', '1e+', '1_000.5', '1__0', '_1', '1_', '1_.5', '1._5', '1e1_0',
 *             '1e_10', '0x10', '0b1', '1e400', '-1e400', '1e-400', '-1e-400', '$12', '12 USD', '1 2', '\xa012.5\u3000', '\x8512', '\ufeff12',
 *             '\x1c12', '12\x1f', '\u0661\u0662.\u0665', '\uff11\uff12', '\U0001d7d9\U0001d7ce', '\u221212', '12\x00', '0.1e-5', '00012.50',
 *             '1' + '0' * 20 + '.5', ' ']
 *   out = []
 *   for s in inputs:
 *       try: out.append([s, repr(float(s))])
 *       except ValueError: out.append([s, None])
 *   print(json.dumps(out, ensure_ascii=True))
 */
const PY_FLOAT: readonly [text: string, repr: string | null][] = JSON.parse(
  String.raw`[
    ["11.555", "11.555"],
    ["12", "12.0"],
    ["1e1", "10.0"],
    ["1E-2", "0.01"],
    [" 11.5 ", "11.5"],
    ["\t11.5\n", "11.5"],
    ["\u000b11.5\f", "11.5"],
    ["11,5", null],
    ["11.5.0", null],
    ["nan", "nan"],
    ["NaN", "nan"],
    ["-nan", "nan"],
    ["inf", "inf"],
    ["-inf", "-inf"],
    ["+Infinity", "inf"],
    ["iNfInItY", "inf"],
    ["infinit", null],
    ["-5", "-5.0"],
    ["+5", "5.0"],
    ["-0", "-0.0"],
    ["5.", "5.0"],
    [".5", "0.5"],
    [".", null],
    ["e5", null],
    ["1e", null],
    ["1e+", null],
    ["1_000.5", "1000.5"],
    ["1__0", null],
    ["_1", null],
    ["1_", null],
    ["1_.5", null],
    ["1._5", null],
    ["1e1_0", "10000000000.0"],
    ["1e_10", null],
    ["0x10", null],
    ["0b1", null],
    ["1e400", "inf"],
    ["-1e400", "-inf"],
    ["1e-400", "0.0"],
    ["-1e-400", "-0.0"],
    ["$12", null],
    ["12 USD", null],
    ["1 2", null],
    ["\u00a012.5\u3000", "12.5"],
    ["\u008512", "12.0"],
    ["\ufeff12", null],
    ["\u001c12", null],
    ["12\u001f", null],
    ["\u0661\u0662.\u0665", "12.5"],
    ["\uff11\uff12", "12.0"],
    ["\ud835\udfd9\ud835\udfce", "10.0"],
    ["\u221212", null],
    ["12\u0000", null],
    ["0.1e-5", "1e-06"],
    ["00012.50", "12.5"],
    ["100000000000000000000.5", "1e+20"],
    [" ", null]
  ]`,
);

const price = (text: string) => loadConfig({ env: { METRICS_UTILITY_PRICE_PER_NODE: text }, keys: ['pricePerNode'] }).pricePerNode;
const fromRepr = (r: string) => (r === 'nan' ? Number.NaN : r === 'inf' ? Infinity : r === '-inf' ? -Infinity : Number(r));

describe('METRICS_UTILITY_PRICE_PER_NODE is read as Python float() reads it', () => {
  it('takes what float() takes, with the same value, and refuses what it refuses (exit 2), and negative prices', () => {
    const wrong: string[] = [];
    for (const [text, repr] of PY_FLOAT) {
      const want = repr === null ? undefined : fromRepr(repr);
      if (text.trim() === '') continue; // an empty or blank value: see below
      let got: number | undefined;
      let refused: unknown;
      try {
        got = price(text);
      } catch (err) {
        refused = err;
      }
      const ok = want === undefined || !Number.isFinite(want) || want < 0 ? refused instanceof ConfigError && refused.exitCode === 2 : Object.is(got, want);
      if (!ok) wrong.push(`${JSON.stringify(text)}: float() gives ${repr}, Tally ${refused ? 'refused' : got}`);
    }
    expect(wrong).toEqual([]);
  });

  it('NaN and the infinities float() takes are refused: openpyxl would write the price as an empty cell', () => {
    for (const text of ['nan', '-inf', 'Infinity', '1e400']) {
      expect(() => price(text)).toThrow(`METRICS_UTILITY_PRICE_PER_NODE=${JSON.stringify(text)} is invalid; expected a finite number of 0 or more such as 12.5`);
    }
  });

  it('the audit cases: 1e1, padded; a comma refused; a negative price refused (the reference takes it), -0 is 0', () => {
    expect([price('1e1'), price(' 11.5 '), price('11.555'), price('-0')]).toEqual([10, 11.5, 11.555, -0]);
    expect(() => price('11,5')).toThrow(ConfigError);
    for (const text of ['-5', '-0.01', '-1e-9']) {
      expect(() => price(text)).toThrow(`METRICS_UTILITY_PRICE_PER_NODE=${JSON.stringify(text)} is invalid; expected a finite number of 0 or more such as 12.5`);
    }
  });

  it('a blank value is refused, as float() refuses it; an empty one counts as unset here (the report command refuses it)', () => {
    expect(() => price(' ')).toThrow(ConfigError);
    expect(price('')).toBeUndefined();
  });
});
