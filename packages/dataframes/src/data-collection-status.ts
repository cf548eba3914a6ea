import type { TallyDuckDb } from './duckdb.js';
import { Dataframe, type Fold } from './dataframe.js';
import { str, ts } from './sql.js';
import type { Column } from './types.js';

/** data_collection_status rows, concatenated; timestamps naive UTC. */
export class DataCollectionStatus extends Dataframe {
  readonly name = 'data_collection_status';
  readonly members = ['data_collection_status.csv'] as const;
  readonly indexColumns = [] as const;
  readonly columns: readonly Column[] = [
    { name: 'collection_start_timestamp', type: 'TIMESTAMP' },
    { name: 'since', type: 'TIMESTAMP' },
    { name: 'until', type: 'TIMESTAMP' },
    { name: 'file_name', type: 'VARCHAR' },
    { name: 'status', type: 'VARCHAR' },
    { name: 'elapsed', type: 'DOUBLE' },
  ];
  constructor(db: TallyDuckDb) {
    super(db, db.tableName('data_collection_status'));
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
    return (
      `SELECT ${ts('collection_start_timestamp')}, ${ts('since')}, ${ts('until')}, ${str('file_name')}, ` +
      `${str('status')}, TRY_CAST("elapsed" AS DOUBLE) FROM ${src}`
    );
  }
}
