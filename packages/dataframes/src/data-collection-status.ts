import { ConcatenatedDataframe } from './concatenated.js';
import type { TallyDuckDb } from './duckdb.js';
import type { Column } from './types.js';

/** data_collection_status rows, concatenated; timestamps naive UTC. */
export class DataCollectionStatus extends ConcatenatedDataframe {
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
  /** `scan`: see `ConcatenatedDataframe.scanAll` (default false). */
  constructor(db: TallyDuckDb, opts: { scan?: boolean } = {}) {
    super(db, db.tableName('data_collection_status'));
    this.scanAll = opts.scan ?? false;
  }
}
