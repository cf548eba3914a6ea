import { streamCsvRows } from '@tally/core';

/** What the anonymized rollup reads of an extracted tarball (an `ExtractedTarball` is one). */
export interface RollupTarball {
  readonly name: string;
  file(member: string): string | undefined;
}

/** A CSV row as pandas' `read_csv` would give it: a missing value (NaN) is `null`. */
export type Row = Record<string, string | null>;

/**
 * pandas' default `na_values`: the reference reads its CSVs with `pd.read_csv` defaults, so these
 * texts are NaN there, and `null` here.
 */
const PANDAS_NA = new Set([
  '', '#N/A', '#N/A N/A', '#NA', '-1.#IND', '-1.#QNAN', '-NaN', '-nan', '1.#IND', '1.#QNAN', '<NA>', 'N/A', 'NA', 'NULL',
  'NaN', 'None', 'n/a', 'nan', 'null',
]);

/** A member's rows as they stream by: `header` once (when the file has one), then `row` per row. */
export interface RowFold<T> {
  header?(columns: readonly string[]): void;
  row(row: Row): void;
  done(): T;
}

/**
 * One batch per tarball, as the reference prepares each collected file on its own and merges
 * the results: the member's rows streamed through `fold` (only the current row held), its result,
 * or `undefined` when the tarball has no such member. A CSV that cannot be parsed refuses the
 * whole call, naming tarball, member and line.
 */
export async function foldMember<T>(tarball: RollupTarball, member: string, fold: RowFold<T>): Promise<T | undefined> {
  const path = tarball.file(member);
  if (path === undefined) return undefined;
  try {
    await streamCsvRows(path, (h) => fold.header?.(h), (row) => {
      for (const k in row) if (row[k] !== null && PANDAS_NA.has(row[k]!)) row[k] = null;
      fold.row(row);
    });
  } catch (err) {
    throw new Error(`${tarball.name}: ${member}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return fold.done();
}

/** A number column value as pandas reads it (`null` for NaN or text that is no number). */
export function num(v: string | null | undefined): number | null {
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** `_convert_id_columns_to_strings`: a whole-number id becomes its integer text. */
export function idText(v: string | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return Number.isInteger(n) ? String(n) : v;
}

/** PostgreSQL's boolean text as the reference maps it (`replace({'t': True, 'f': False})`). */
export function pgBool(v: string | null | undefined): boolean | null {
  if (v === 't' || v === 'True' || v === 'true') return true;
  if (v === 'f' || v === 'False' || v === 'false') return false;
  return null;
}

const TS = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?)?$/;

/**
 * `pd.to_datetime(errors='coerce', utc=True)` as epoch microseconds: microseconds kept (a JS
 * Date would drop them, and durations are reported to the microsecond); a naive time is UTC;
 * anything else is NaT (`null`).
 */
export function epochMicros(v: string | null | undefined): number | null {
  if (v === null || v === undefined) return null;
  const m = TS.exec(v.trim());
  if (!m) return null;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  if (Number.isNaN(ms)) return null;
  const frac = m[7] ? Number(m[7].padEnd(6, '0')) : 0;
  const sign = m[9] === '-' ? -1 : 1;
  const offsetMin = m[9] ? sign * (Number(m[10]) * 60 + Number(m[11] ?? 0)) : 0;
  return (ms - offsetMin * 60_000) * 1000 + frac;
}

/** Python's `sorted` of distinct strings (code-point order, as JS's default sort of strings). */
export function sortedSet(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

/** pandas' max/min/sum that skip NaN: max/min of nothing is NaN, which the payload writes as null. */
export function maxOf(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}
export function minOf(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}
