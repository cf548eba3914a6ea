import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factValue, openDuckDb, type TallyDuckDb } from '../src/index.js';
import { jsonPairs } from '../src/sql.js';

// The pairs of a facts object as the reference's merge_json_sets keeps its values: json.loads'
// types, null / "" / "NA" dropped (the text "null" kept). Not covered: a key given twice, whose
// last value json.loads keeps and DuckDB keeps both of; PostgreSQL's jsonb never writes one.

let db: TallyDuckDb;
beforeAll(async () => {
  db = await openDuckDb({ threads: 1 });
});
afterAll(async () => db.close());

const pairsOf = async (json: string) => {
  const [row] = await db.all<{ p: { key: string; value: string }[] }>(`SELECT ${jsonPairs('f')} AS p FROM (SELECT ? AS f)`, [json]);
  return row!.p;
};

describe('facts as pairs of JSON texts', () => {
  it('keeps each value as the JSON of what json.loads reads, in one spelling', async () => {
    const json = '{"a": "caf\\u00e9", "b": "null", "c": null, "d": [1, 2.50], "e": "", "g": "NA", "h": 1e2, "i": 4, "j": 4.0, "k": true, "l": {"x": 1}}';
    expect(await pairsOf(json)).toEqual([
      { key: 'a', value: '"café"' },
      { key: 'b', value: '"null"' },
      { key: 'd', value: '"[1,2.5]"' },
      { key: 'h', value: '100.0' },
      { key: 'i', value: '4' },
      { key: 'j', value: '4.0' },
      { key: 'k', value: 'true' },
      { key: 'l', value: '"{\\"x\\":1}"' },
    ]);
  });

  it('anything but an object gives no pairs (parse_json gives {})', async () => {
    expect(await pairsOf('[1, 2]')).toEqual([]);
    expect(await pairsOf('not json')).toEqual([]);
    expect(await pairsOf('4')).toEqual([]);
  });

  it('factValue reads a pair text as Python would: str, int (bigint), float, bool', async () => {
    const [big] = await pairsOf('{"n": 123456789012345678901234567890}');
    expect(factValue(big!.value)).toBe(123456789012345678901234567890n);
    expect(factValue('"4"')).toBe('4');
    expect(factValue('4')).toBe(4n);
    expect(factValue('4.0')).toBe(4);
    expect(factValue('-0.0')).toBe(-0);
    expect(factValue('1E400')).toBe(Number.POSITIVE_INFINITY);
    expect(factValue('NaN')).toBeNaN();
    expect(factValue('false')).toBe(false);
    expect(() => factValue('')).toThrow(/not the JSON text of a fact value/);
    expect(() => factValue('0x10')).toThrow(/not the JSON text of a fact value/);
  });
});
