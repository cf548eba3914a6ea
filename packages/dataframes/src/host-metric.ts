import { ConcatenatedDataframe } from './concatenated.js';
import type { TallyDuckDb } from './duckdb.js';
import type { Column } from './types.js';

/** host_metric rows, concatenated (no grouping); dates naive UTC. */
export class HostMetric extends ConcatenatedDataframe {
  readonly name = 'host_metric';
  readonly members = ['host_metric.csv'] as const;
  readonly indexColumns = [] as const;
  readonly columns: readonly Column[] = [
    { name: 'hostname', type: 'VARCHAR' },
    { name: 'host_id', type: 'BIGINT' },
    { name: 'first_automation', type: 'TIMESTAMP' },
    { name: 'last_automation', type: 'TIMESTAMP' },
    { name: 'automated_counter', type: 'BIGINT' },
    { name: 'deleted_counter', type: 'BIGINT' },
    { name: 'last_deleted', type: 'TIMESTAMP' },
    { name: 'deleted', type: 'BOOLEAN' },
    { name: 'ansible_product_serial', type: 'VARCHAR' },
    { name: 'ansible_machine_id', type: 'VARCHAR' },
    { name: 'ansible_host_variable', type: 'VARCHAR' },
    { name: 'ansible_connection_variable', type: 'VARCHAR' },
  ];
  constructor(db: TallyDuckDb) {
    super(db, db.tableName('host_metric'));
  }
}
