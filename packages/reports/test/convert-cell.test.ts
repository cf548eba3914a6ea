import { factsCell, pythonJson, setCell } from '../src/convert-cell.js';
import { describe, expect, it } from 'vitest';

// Expected texts are what Python 3's json.dumps (default settings) prints for the same values.
describe('convert_cell', () => {
  it('sets and string lists: sorted JSON lists with ", " separators', () => {
    expect(setCell(['b', 'a', 'B'])).toBe('["B", "a", "b"]');
    expect(setCell([])).toBe('[]');
  });

  it('dicts: "key": [sorted values], keys in sorted order', () => {
    expect(factsCell([{ key: 'z', value: '2' }, { key: 'a', value: 'y' }, { key: 'z', value: '10' }])).toBe('{"a": ["y"], "z": ["10", "2"]}');
    expect(factsCell([])).toBe('{}');
  });

  it('non-ASCII and control characters escaped as json.dumps does (ensure_ascii)', () => {
    expect(pythonJson(['café', 'naïve\n', 'tab\t', '\u007f', '😀', 'quote"back\\slash/'])).toBe(
      '["caf\\u00e9", "na\\u00efve\\n", "tab\\t", "\\u007f", "\\ud83d\\ude00", "quote\\"back\\\\slash/"]',
    );
    expect(pythonJson({ 'ключ': ['x'] })).toBe('{"\\u043a\\u043b\\u044e\\u0447": ["x"]}');
  });
});
