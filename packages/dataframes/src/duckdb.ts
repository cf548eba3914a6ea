import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

export interface DuckDbOptions {
  /** DuckDB `memory_limit`, e.g. `'768MB'` (default `TALLY_DUCKDB_MEMORY_LIMIT` or `'768MB'`). */
  memoryLimit?: string;
  /** DuckDB `threads` (default 2). */
  threads?: number;
  /** Where DuckDB may spill; default a private temp directory removed on close. */
  tempDirectory?: string;
}

/** One DuckDB in-memory database with extension auto-install/auto-load off and `TimeZone=UTC`. */
export interface TallyDuckDb extends AsyncDisposable {
  readonly instance: DuckDBInstance;
  readonly connection: DuckDBConnection;
  /** Run a statement; `params` are bound ($1, $2 …), never interpolated. */
  run(sql: string, params?: unknown[]): Promise<void>;
  /** Run a query and return rows as plain JS objects (dates as `Date`, BIGINT as number when safe). */
  all<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** A unique table name with the given prefix. */
  tableName(prefix: string): string;
  close(): Promise<void>;
}

export async function openDuckDb(_opts: DuckDbOptions = {}): Promise<TallyDuckDb> {
  throw new Error('not implemented');
}
