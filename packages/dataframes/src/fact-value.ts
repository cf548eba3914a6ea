/**
 * A fact's value as Python's json.loads reads it: a `str` (string), an `int` (bigint: exact at
 * any size, as Python's), a `float` (number, `4.0` included) or a `bool` (boolean).
 */
export type FactValue = string | bigint | number | boolean;

const FLOAT = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|NaN|-?Infinity)$/;

/** The pair text of a fact (`FactPair.value`: its JSON text, see PAIRS_TYPE) → its Python value. */
export function factValue(json: string): FactValue {
  if (json.startsWith('"')) return JSON.parse(json) as string;
  if (json === 'true') return true;
  if (json === 'false') return false;
  if (/^-?\d+$/.test(json)) return BigInt(json);
  // DuckDB writes a float's JSON with a decimal point or exponent, and NaN / ±Infinity as Python reads them.
  if (!FLOAT.test(json)) throw new Error(`not the JSON text of a fact value: ${json.slice(0, 80)}`);
  return Number(json);
}
