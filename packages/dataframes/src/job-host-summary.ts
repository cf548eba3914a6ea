import type { TallyDuckDb } from './duckdb.js';
import { Dataframe } from './dataframe.js';
import type { Column } from './types.js';

export const DIRECT = 0;
export const INDIRECT = 1;

export interface JobHostSummaryOptions {
  /**
   * Keep only reachable hosts, i.e. drop DIRECT rows whose task runs without `dark`
   * are 0 (metrics-utility ≥ 0.5.0). Default true; false counts unreachable hosts as
   * the 0.4.0 snapshot did.
   */
  reachableOnly?: boolean;
}

/**
 * job_host_summary (DIRECT, schemas 1.0/1.1/1.2 and the `host_id` variant) and
 * main_indirectmanagednodeaudit (INDIRECT) grouped by
 * organization_name, job_template_name, host_name, original_host_name, install_uuid, job_remote_id.
 */
export class JobHostSummary extends Dataframe {
  readonly name = 'job_host_summary';
  readonly members = ['job_host_summary.csv', 'main_indirectmanagednodeaudit.csv', 'config.json'] as const;
  readonly indexColumns = [
    'organization_name',
    'job_template_name',
    'host_name',
    'original_host_name',
    'install_uuid',
    'job_remote_id',
  ] as const;
  readonly columns: readonly Column[] = [
    { name: 'organization_name', type: 'VARCHAR' },
    { name: 'job_template_name', type: 'VARCHAR' },
    { name: 'host_name', type: 'VARCHAR' },
    { name: 'original_host_name', type: 'VARCHAR' },
    { name: 'install_uuid', type: 'VARCHAR' },
    { name: 'job_remote_id', type: 'BIGINT' },
    { name: 'host_runs', type: 'BIGINT' },
    { name: 'task_runs', type: 'BIGINT' },
    { name: 'first_automation', type: 'TIMESTAMP' },
    { name: 'last_automation', type: 'TIMESTAMP' },
    { name: 'job_created', type: 'TIMESTAMP' },
    { name: 'managed_node_type', type: 'INTEGER' },
    { name: 'managed_node_types_set', type: 'VARCHAR[]' },
    { name: 'canonical_facts', type: 'STRUCT(key VARCHAR, value VARCHAR)[]' },
    { name: 'facts', type: 'STRUCT(key VARCHAR, value VARCHAR)[]' },
    { name: 'events', type: 'VARCHAR[]' },
    { name: 'host_names_before_dedup', type: 'VARCHAR[]' },
  ];
  readonly reachableOnly: boolean;

  constructor(db: TallyDuckDb, opts: JobHostSummaryOptions = {}) {
    super(db, db.tableName('job_host_summary'));
    this.reachableOnly = opts.reachableOnly ?? true;
  }
}
