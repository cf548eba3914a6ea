import type { TallyDuckDb } from './duckdb.js';
import { ident } from './duckdb.js';
import { Dataframe, type Fold } from './dataframe.js';
import { int, str, ts } from './sql.js';
import type { Column } from './types.js';

/** host_metric rows, concatenated (no grouping); dates naive UTC. */
export class HostMetric extends Dataframe {
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
      if (c.type === 'TIMESTAMP') return ts(c.name);
      if (c.type === 'BIGINT') return int(c.name);
      if (c.type === 'BOOLEAN') return `TRY_CAST(${ident(c.name)} AS BOOLEAN)`;
      return str(c.name);
    });
    return `SELECT ${exprs.join(', ')} FROM ${src}`;
  }
}
