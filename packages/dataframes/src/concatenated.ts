import { ident } from './duckdb.js';
import { Dataframe, type Fold } from './dataframe.js';
import { int, str } from './sql.js';
import type { Column } from './types.js';

/**
 * A dataframe whose rows are concatenated, never grouped (host_metric,
 * data_collection_status): raw columns are its columns, each cast by its type.
 */
export abstract class ConcatenatedDataframe extends Dataframe {
  /**
   * Leave every member's CSVs as scans for the next grouping (see `scanMembers`): for a caller
   * that groups while the extracted files exist, e.g. a rollup, which then copies a day's rows
   * straight from the scan into Parquet (no insert, count and delete of a raw table).
   */
  protected scanAll = false;

  protected override scanMembers(): readonly string[] {
    return this.scanAll ? this.members : [];
  }

  protected rawColumns(): readonly string[] {
    return this.columns.map((c) => c.name);
  }

  protected folds(): Record<string, Fold> {
    return {};
  }

  protected get preparedColumns(): readonly Column[] {
    return this.columns;
  }

  protected aggregateSql(from: string): string {
    return `SELECT * FROM ${from}`;
  }

  protected prepareSql(_member: string, src: string): string {
    const exprs = this.columns.map((c) => {
      // The raw relation has parsed the member's timestamps (its schema's `timestamps`).
      if (c.type === 'TIMESTAMP') return ident(c.name);
      if (c.type === 'BIGINT') return int(c.name);
      if (c.type === 'VARCHAR') return str(c.name);
      return `TRY_CAST(${ident(c.name)} AS ${c.type})`;
    });
    return `SELECT ${exprs.join(', ')} FROM ${src}`;
  }
}
