import type { TallyDuckDb } from './duckdb.js';
import { Dataframe } from './dataframe.js';
import type { Column } from './types.js';

/** main_host / main_host_daily grouped by host_name, install_uuid. */
export class MainHost extends Dataframe {
  readonly name = 'main_host';
  readonly members = ['main_host.csv', 'main_host_daily.csv', 'config.json'] as const;
  readonly indexColumns = ['host_name', 'install_uuid'] as const;
  readonly columns: readonly Column[] = [
    { name: 'host_name', type: 'VARCHAR' },
    { name: 'install_uuid', type: 'VARCHAR' },
    { name: 'organizations', type: 'VARCHAR[]' },
    { name: 'inventories', type: 'VARCHAR[]' },
    { name: 'canonical_facts', type: 'STRUCT(key VARCHAR, value VARCHAR)[]' },
    { name: 'facts', type: 'STRUCT(key VARCHAR, value VARCHAR)[]' },
    { name: 'last_automation', type: 'TIMESTAMP' },
    { name: 'serials', type: 'VARCHAR[]' },
    { name: 'host_names_before_dedup', type: 'VARCHAR[]' },
  ];
  constructor(db: TallyDuckDb) {
    super(db, db.tableName('main_host'));
  }
}
