import { compareFactValues, factsCell, pythonJson, setCell, sortedFactValues } from '../src/convert-cell.js';
import { describe, expect, it } from 'vitest';

// Expected texts are what Python 3's json.dumps (default settings) prints for the same values.
// A FactPair's value is the JSON text of the fact's value (see PAIRS_TYPE in @tally/dataframes).
const pairs = (key: string, ...values: string[]) => values.map((value) => ({ key, value }));

describe('convert_cell', () => {
  it('sets and string lists: sorted JSON lists with ", " separators', () => {
    expect(setCell(['b', 'a', 'B'])).toBe('["B", "a", "b"]');
    expect(setCell([])).toBe('[]');
  });

  it('texts sort by code point as Python sorts them (U+FF61 before U+1F600, whose UTF-16 starts 0xD83D)', () => {
    expect(setCell(['😀', '｡'])).toBe('["\\uff61", "\\ud83d\\ude00"]');
    expect(factsCell(pairs('k', '"😀"', '"｡"'))).toBe('{"k": ["\\uff61", "\\ud83d\\ude00"]}');
  });

  it('dicts: "key": [sorted values], keys in sorted order', () => {
    expect(factsCell([...pairs('z', '"2"'), ...pairs('a', '"y"'), ...pairs('z', '"10"')])).toBe('{"a": ["y"], "z": ["10", "2"]}');
    expect(factsCell([])).toBe('{}');
  });

  it('numbers and booleans keep their type: [4] apart from ["4"], true, 4.0 as a float', () => {
    expect(factsCell(pairs('cpu', '4'))).toBe('{"cpu": [4]}');
    expect(factsCell(pairs('cpu', '"4"'))).toBe('{"cpu": ["4"]}');
    expect(factsCell(pairs('ha', 'true'))).toBe('{"ha": [true]}');
    expect(factsCell(pairs('ratio', '4.0', '100.0'))).toBe('{"ratio": [4.0, 100.0]}');
    // sorted({4, 16, 2.5, True, False}) == [False, True, 2.5, 4, 16]: numerically, bools as 0 and 1.
    expect(factsCell(pairs('n', '4', '16', '2.5', 'true', 'false'))).toBe('{"n": [false, true, 2.5, 4, 16]}');
  });

  it('floats as Python writes them: exponent from 1e16 up and below 1e-4, -0.0, NaN and Infinity', () => {
    expect(factsCell(pairs('f', '1e16', '1000000000000000.0', '0.0001', '1.5e-7', '-0.0', '1.2345678901234567e+19'))).toBe(
      '{"f": [-0.0, 1.5e-07, 0.0001, 1000000000000000.0, 1e+16, 1.2345678901234567e+19]}',
    );
    expect(factsCell(pairs('f', 'Infinity', '-Infinity', 'NaN'))).toBe('{"f": [-Infinity, Infinity, NaN]}');
  });

  it('an int is exact at any size, and compares exactly with a float (2**53 + 1 > 2.0**53)', () => {
    expect(factsCell(pairs('big', '123456789012345678901234567890'))).toBe('{"big": [123456789012345678901234567890]}');
    expect(factsCell(pairs('b', '9007199254740993', '9007199254740992.0'))).toBe('{"b": [9007199254740992.0, 9007199254740993]}');
    expect(compareFactValues(9007199254740993n, 9007199254740992)).toBe(1);
    expect(compareFactValues(-2n, -1.5)).toBe(-1);
    expect(compareFactValues(-1n, -1.5)).toBe(1);
  });

  it('values Python holds equal count once (1 == 1.0 == True): Tally keeps the int, else the float', () => {
    expect(factsCell(pairs('x', 'true', '1.0', '1'))).toBe('{"x": [1]}');
    expect(factsCell(pairs('x', 'false', '0.0'))).toBe('{"x": [0.0]}');
    expect(sortedFactValues([true, 2n, false])).toEqual([false, true, 2n]);
  });

  it('texts and numbers under one key (the reference fails to sort them): numbers first', () => {
    expect(factsCell(pairs('cpu', '"4"', '16', '"a"', '4'))).toBe('{"cpu": [4, 16, "4", "a"]}');
  });

  it('an array or object value (the reference cannot hold it in a set) is the text of its JSON', () => {
    expect(factsCell(pairs('l', '"[1,2.5]"', '"{\\"a\\":1}"'))).toBe('{"l": ["[1,2.5]", "{\\"a\\":1}"]}');
  });

  it('non-ASCII and control characters escaped as json.dumps does (ensure_ascii)', () => {
    expect(pythonJson(['café', 'naïve\n', 'tab\t', '\u007f', '😀', 'quote"back\\slash/'])).toBe(
      '["caf\\u00e9", "na\\u00efve\\n", "tab\\t", "\\u007f", "\\ud83d\\ude00", "quote\\"back\\\\slash/"]',
    );
    expect(pythonJson({ 'ключ': ['x'] })).toBe('{"\\u043a\\u043b\\u044e\\u0447": ["x"]}');
  });
});
