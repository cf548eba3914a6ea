import type { Table } from 'apache-arrow';
import type { ExtractedTarball } from '@tally/extractors';
import type { TallyDuckDb } from './duckdb.js';
import type { BatchContext, Column } from './types.js';

/**
 * A named dataframe on DuckDB. Rows are added (raw CSV → prepare → group, or grouped
 * Parquet rollups as they are) into a staging table; `group()` folds everything added
 * into the grouped table `table`, which a report may query with SQL directly.
 * Set columns are sorted, distinct `VARCHAR[]` lists; JSON-set columns (`facts`,
 * `canonical_facts`) are sorted, distinct `STRUCT(key VARCHAR, value VARCHAR)[]` lists.
 */
export abstract class Dataframe {
  /** e.g. `job_host_summary`; also the rollup directory name. */
  abstract readonly name: string;
  /** Tarball members this dataframe reads (`config.json` included when install_uuid is needed). */
  abstract readonly members: readonly string[];
  /** Grouped table columns, index columns first. */
  abstract readonly columns: readonly Column[];
  /** Columns that identify a grouped row (empty for concat-only dataframes). */
  abstract readonly indexColumns: readonly string[];
  readonly db: TallyDuckDb;
  /** The grouped table (exists from construction, so its columns are known even when empty). */
  readonly table: string;

  constructor(db: TallyDuckDb, tablePrefix: string) {
    this.db = db;
    this.table = tablePrefix;
  }

  /** Prepare and group raw CSV file(s) (one schema variant each is fine) into staging. Returns rows read. */
  async addCsv(_paths: string | readonly string[], _ctx: BatchContext = {}): Promise<number> {
    throw new Error('not implemented');
  }
  /** Add the members of an extracted tarball this dataframe reads (install_uuid from its config.json). */
  async addTarball(_tarball: ExtractedTarball): Promise<number> {
    throw new Error('not implemented');
  }
  /** Add already-grouped rows from Parquet file(s) written by `toParquet` (a rollup). */
  async addParquet(_paths: string | readonly string[]): Promise<number> {
    throw new Error('not implemented');
  }
  /** Fold everything added so far into `table` (regroup semantics: sums, min/max, set unions). */
  async group(): Promise<void> {
    throw new Error('not implemented');
  }
  /**
   * Regroup `table` in place, optionally renaming hosts first (`hostNameMapping`, the
   * reference's dedup): rows that now share an index are merged.
   */
  async regroup(_opts: { hostNameMapping?: ReadonlyMap<string, string> } = {}): Promise<void> {
    throw new Error('not implemented');
  }
  /** Rows in `table`. */
  async count(): Promise<number> {
    throw new Error('not implemented');
  }
  /** Rows of `table` as JS objects, index order. */
  async rows(): Promise<Record<string, unknown>[]> {
    throw new Error('not implemented');
  }
  /** Write `table` as CSV (header always; sets as JSON arrays) to `path`, or return the text. */
  async toCsv(_path?: string): Promise<string | undefined> {
    throw new Error('not implemented');
  }
  /** Write `table` as Parquet (zstd) to `path`. */
  async toParquet(_path: string): Promise<void> {
    throw new Error('not implemented');
  }
  /** `table` as JSON-ready rows (dates ISO strings, sets arrays, facts objects). */
  async toJson(): Promise<Record<string, unknown>[]> {
    throw new Error('not implemented');
  }
  /** `table` as an Arrow table with explicit column types. */
  async toArrow(): Promise<Table> {
    throw new Error('not implemented');
  }
  /** Drop this dataframe's tables. */
  async drop(): Promise<void> {
    throw new Error('not implemented');
  }
}
