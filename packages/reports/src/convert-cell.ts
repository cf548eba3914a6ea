/**
 * Set- and dict-valued cells as the reference's `convert_cell` writes them: Python's
 * `json.dumps` (separators `", "` and `": "`, non-ASCII escaped as `\uXXXX`) of sorted lists and
 * of dicts whose set values are sorted lists.
 */
import { pythonFloat, pythonJson } from '@tally/core';
import { type FactPair, type FactValue, factValue } from '@tally/dataframes';
import { codePointCompare } from './renewal-dedup.js';

export { pythonJson };

/** A set (or a list of strings) cell: its values sorted as Python sorts strings (by code point), as a JSON list. */
export function setCell(values: readonly string[]): string {
  return pythonJson([...values].sort(codePointCompare));
}

/** A fact value as json.dumps writes it: a float always as a float (`4.0`), an int exactly. */
function factJson(v: FactValue): string {
  if (typeof v === 'number') return pythonFloat(v);
  return pythonJson(v);
}

/** A number or boolean as a number (Python's True == 1); undefined for a text. */
const numeric = (v: FactValue): bigint | number | undefined =>
  typeof v === 'boolean' ? BigInt(v) : typeof v === 'string' ? undefined : v;

/** Python's comparison of an int and a float: exact (2**53 + 1 != 2.0**53), NaN after every number. */
function compareNumbers(a: bigint | number, b: bigint | number): number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'number' && typeof b === 'number') {
    if (Number.isNaN(a) || Number.isNaN(b)) return Number(Number.isNaN(a)) - Number(Number.isNaN(b));
    return a < b ? -1 : a > b ? 1 : 0;
  }
  return typeof a === 'bigint' ? -compareFloat(b as number, a) : compareFloat(a as number, b as bigint);
}

function compareFloat(f: number, i: bigint): number {
  if (Number.isNaN(f)) return 1;
  if (!Number.isFinite(f)) return f > 0 ? 1 : -1;
  const floor = BigInt(Math.floor(f));
  if (floor !== i) return floor < i ? -1 : 1;
  return f === Math.floor(f) ? 0 : 1;
}

/**
 * Python's order of a key's values: numbers and booleans by value, texts by code point. The
 * reference's `sorted` fails on a mix of texts and numbers; Tally puts the numbers first.
 */
export function compareFactValues(a: FactValue, b: FactValue): number {
  const x = numeric(a);
  const y = numeric(b);
  if (x === undefined || y === undefined) {
    if (x !== y) return x === undefined ? 1 : -1;
    return codePointCompare(a as string, b as string);
  }
  return compareNumbers(x, y);
}

/** Of values Python holds equal (`1`, `1.0`, `true`), the one a set keeps: the reference's is the first read, Tally's an int, else a float. */
const RANK = { bigint: 0, number: 1, boolean: 2, string: 3 } as const;
const preferred = (a: FactValue, b: FactValue) =>
  RANK[typeof a as keyof typeof RANK] - RANK[typeof b as keyof typeof RANK] || codePointCompare(factJson(a), factJson(b));

/** A key's values as Python's set of them, sorted: values Python holds equal count once. */
export function sortedFactValues(values: readonly FactValue[]): FactValue[] {
  const sorted = [...values].sort((a, b) => compareFactValues(a, b) || preferred(a, b));
  return sorted.filter((v, i) => i === 0 || compareFactValues(sorted[i - 1] as FactValue, v) !== 0);
}

/**
 * A facts cell: `{key: [values…]}` with each key's values sorted. Keys come in sorted order (the
 * reference keeps the order in which rows first named them, which depends on load order).
 */
export function factsCell(pairs: readonly FactPair[]): string {
  const byKey = new Map<string, FactValue[]>();
  for (const { key, value } of pairs) {
    const list = byKey.get(key) ?? [];
    list.push(factValue(value));
    byKey.set(key, list);
  }
  const keys = [...byKey.keys()].sort(codePointCompare);
  const entries = keys.map((k) => `${pythonJson(k)}: [${sortedFactValues(byKey.get(k) ?? []).map(factJson).join(', ')}]`);
  return `{${entries.join(', ')}}`;
}

/** A fact value in a sheet cell as openpyxl writes the reference's: a number or boolean stays one. */
export function factCellValue(v: FactValue): string | number | boolean {
  return typeof v === 'bigint' ? Number(v) : v;
}
