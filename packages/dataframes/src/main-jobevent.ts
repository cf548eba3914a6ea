import type { TallyDuckDb } from './duckdb.js';
import { Dataframe } from './dataframe.js';
import type { Column } from './types.js';

/** main_jobevent grouped by host_name, module_name, collection_name, role_name, install_uuid, job_remote_id. */
export class MainJobevent extends Dataframe {
  readonly name = 'main_jobevent';
  readonly members = ['main_jobevent.csv', 'config.json'] as const;
  readonly indexColumns = ['host_name', 'module_name', 'collection_name', 'role_name', 'install_uuid', 'job_remote_id'] as const;
  readonly columns: readonly Column[] = [
    { name: 'host_name', type: 'VARCHAR' },
    { name: 'module_name', type: 'VARCHAR' },
    { name: 'collection_name', type: 'VARCHAR' },
    { name: 'role_name', type: 'VARCHAR' },
    { name: 'install_uuid', type: 'VARCHAR' },
    { name: 'job_remote_id', type: 'BIGINT' },
    { name: 'task_runs', type: 'BIGINT' },
    { name: 'duration', type: 'DOUBLE' },
  ];
  constructor(db: TallyDuckDb) {
    super(db, db.tableName('main_jobevent'));
  }
}
