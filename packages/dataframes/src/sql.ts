/** SQL fragments shared by the dataframes. `col` arguments are raw column names (quoted here). */
import { ident } from './duckdb.js';

/**
 * Text → naive UTC TIMESTAMP (the session runs with TimeZone=UTC); NULL stays NULL, and text
 * that is no timestamp fails the query (a CSV's bad timestamp refuses its tarball).
 * PostgreSQL's UTC text (`…+00`, nearly every row) takes the plain TIMESTAMP cast, which reads
 * the date and time and ignores a zero offset: ~3× cheaper than the ICU TIMESTAMPTZ parse that
 * every other text still gets, so that other offsets are honoured (CASE evaluates each branch
 * only on its own rows).
 */
export const ts = (col: string) => {
  const c = ident(col);
  return `CASE WHEN suffix(${c}, '+00') THEN CAST(${c} AS TIMESTAMP) ELSE CAST(CAST(${c} AS TIMESTAMPTZ) AS TIMESTAMP) END`;
};
/**
 * How rollup parts are written: Parquet 2 encodings (timestamps and counts delta-encoded: the
 * automation times were half of the job-grain file written plain) and a dictionary only for a
 * column with at most 256 distinct values in a row group (organizations, templates, installs).
 * Building one (and a bloom filter from it) for host names cost ~20 % of a day's scan-and-write
 * CPU; Parquet 2 with no dictionary at all fails in DuckDB 1.5 ("not enough space in buffer").
 * Measured: ~11 % less CPU for 6 days' job-grain scan-and-write and ~25 % less for the reads of a
 * month's file that follow; a day's usage-hosts file ~20 % less CPU and a third the size.
 */
export const PARQUET_V2 = 'FORMAT parquet, COMPRESSION zstd, PARQUET_VERSION v2, DICTIONARY_SIZE_LIMIT 256';

/** Doubles hold every integer of at most 53 bits exactly; the CSV reader reads count columns as DOUBLE. */
const EXACT = 9007199254740992;

/**
 * A count column read as DOUBLE → BIGINT; NULL stays NULL, and a value that is not a whole
 * number of at most 53 bits fails the query. (Read as BIGINT, DuckDB would round `2.5` to 3.)
 * The whole-number test comes first and alone (NULL fails it, as does NaN): nearly every value
 * takes that branch, and the NULL test runs only on the rest instead of on every value.
 */
export const wholeNumber = (col: string) => {
  const c = ident(col);
  return (
    `CASE WHEN ${c} = trunc(${c}) AND abs(${c}) < ${EXACT} THEN CAST(${c} AS BIGINT) WHEN ${c} IS NULL THEN NULL ` +
    `ELSE error('column ${col.replace(/'/g, "''")} is not an integer: ' || CAST(${c} AS VARCHAR)) END`
  );
};

/** Text → BIGINT, empty/unparsable → NULL. */
export const int = (col: string) => `TRY_CAST(${ident(col)} AS BIGINT)`;
/** Text → BIGINT, empty/unparsable → 0. */
export const int0 = (col: string) => `COALESCE(TRY_CAST(${ident(col)} AS BIGINT), 0)`;
/** Empty text → NULL. */
export const str = (col: string) => `NULLIF(${ident(col)}, '')`;

/**
 * `{key, value}` pairs of a JSON-set column (facts, canonical_facts). `value` is the JSON text of
 * the value as Python's json.loads reads it: a quoted text, a number (`4`, `4.0`) or `true` /
 * `false`, so that `[4]` and `["4"]` stay apart through Parquet rollups. (An array or object,
 * which the reference's sets cannot hold, is kept as the text of its JSON.)
 */
export const PAIRS_TYPE = 'STRUCT(key VARCHAR, value VARCHAR)[]';

/**
 * A JSON value of a facts object → its pair text (see PAIRS_TYPE); JSON null → NULL. DuckDB
 * writes a parsed value back in one spelling (`"caf\u00e9"` as `"café"`, `1e2` as `100.0`).
 */
const pairValue = (v: string) =>
  `CASE WHEN json_type(${v}) IN ('ARRAY', 'OBJECT') THEN CAST(to_json(CAST(${v} AS VARCHAR)) AS VARCHAR) ELSE CAST(${v} AS VARCHAR) END`;

/**
 * JSON object text → sorted distinct `{key, value}` pairs, dropping null, `""` and `"NA"` values
 * (the reference's merge_json_sets); anything else → empty list.
 */
export const jsonPairs = (name: string) => {
  const col = ident(name);
  return `CASE WHEN json_valid(${col}) AND json_type(${col}) = 'OBJECT' THEN ` +
  `list_sort(list_distinct(list_filter(list_transform(map_entries(CAST(CAST(${col} AS JSON) AS MAP(VARCHAR, JSON))), ` +
  `e -> {'key': e.key, 'value': ${pairValue('e.value')}}), ` +
  `p -> p.value IS NOT NULL AND p.value NOT IN ('null', '""', '"NA"')))) ELSE []::${PAIRS_TYPE} END`;
};

/** JSON array text → list of its elements as text (parse_json_array); anything else → []. */
export const jsonArray = (name: string) => {
  const col = ident(name);
  return `CASE WHEN json_valid(${col}) AND json_type(${col}) = 'ARRAY' THEN ` +
  `list_filter(CAST(json_extract_string(${col}, '$[*]') AS VARCHAR[]), x -> x IS NOT NULL) ELSE []::VARCHAR[] END`;
};

/** Aggregate: union of list column values, sorted, distinct, NULLs dropped. */
export const unionLists = (col: string) => `list_sort(list_distinct(flatten(list(${col}))))`;
/** Aggregate: set of scalar values, sorted, distinct, NULLs dropped. */
export const setOf = (expr: string) => `list_sort(list_distinct(list(${expr})))`;

/** Pairs list → JSON object text `{key: [values…]}` (for CSV/JSON output), values as their JSON. */
export const pairsToJson = (col: string) =>
  `COALESCE((SELECT json_group_object(k, vs) FROM (SELECT p.key AS k, list(CAST(p.value AS JSON) ORDER BY p.value) AS vs ` +
  `FROM unnest(${col}) AS u(p) GROUP BY p.key ORDER BY k)), '{}')`;
