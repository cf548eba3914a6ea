/** A column of a dataframe's grouped table, with its DuckDB type. */
export interface Column {
  readonly name: string;
  /** DuckDB type, e.g. `VARCHAR`, `BIGINT`, `TIMESTAMP`, `VARCHAR[]`. */
  readonly type: string;
  /**
   * SQL over the row's other (underived) columns giving this column's value where a Parquet part
   * holds NULL in it or leaves it out. A part leaves it out only when the value is that for
   * every row (see `Dataframe.plainScans`): most rows then cost no write and no read of it.
   */
  readonly derived?: string;
}

/** Per-batch facts a CSV does not carry itself. */
export interface BatchContext {
  /** `install_uuid` from the tarball's `config.json` (NULL when unknown). */
  installUuid?: string | null;
  /** Name used in error messages (tarball or file). */
  source?: string;
  /** Which tarball member the file is (default: its base name when known, else the first member). */
  member?: string;
}

/** A `{key, value}` pair of a JSON-set column (`facts`, `canonical_facts`). */
export interface FactPair {
  key: string;
  /** The value's JSON text (`"x86_64"`, `4`, `4.0`, `true`): read it with `factValue`. */
  value: string;
}
