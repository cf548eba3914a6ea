import type { TallyDuckDb } from './duckdb.js';
import { Dataframe, type Fold } from './dataframe.js';
import { int, str } from './sql.js';
import type { Column } from './types.js';

/** The reference's collection regex; group 3 is the *last* repetition (RE2 agrees). */
const COLLECTION = String.raw`^(\w+)\.(\w+)\.((\w+)(\.|$))+`;
const STANDALONE_ROLE = String.raw`^(\w+)\.(\w+)$`;

const q = (s: string) => `'${s}'`;

/**
 * SQL: the collection (`ns.coll`) of a fully qualified content name `expr`, NULL when it has none
 * (the reference's extract_collection_name).
 */
export const collectionOf = (expr: string) =>
  `CASE WHEN regexp_matches(${expr}, ${q(COLLECTION)}) THEN regexp_extract(${expr}, ${q(COLLECTION)}, 1) || '.' || regexp_extract(${expr}, ${q(COLLECTION)}, 2) END`;

/**
 * main_jobevent grouped by host_name, module_name, collection_name, role_name, install_uuid,
 * job_remote_id: task_runs = events, duration = sum of `duration` (missing = 0).
 * Events without task_action or host_name are dropped; module = resolved_action else
 * task_action; role = resolved_role else role, kept only as `ns.coll.role` or `ns.role`.
 */
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

  protected rawColumns(): readonly string[] {
    return ['host_name', 'task_action', 'resolved_action', 'role', 'resolved_role', 'duration', 'job_remote_id'];
  }

  protected folds(): Record<string, Fold> {
    return { task_runs: 'sum', duration: 'sum' };
  }

  protected readonly preparedColumns: readonly Column[] = [
    ...this.columns.filter((c) => this.indexColumns.includes(c.name as never)),
    { name: 'duration', type: 'DOUBLE' },
  ];

  protected prepareSql(member: string, src: string): string | undefined {
    if (member !== 'main_jobevent.csv') return undefined;
    const role = `COALESCE(${str('resolved_role')}, ${str('role')})`;
    return (
      `SELECT ${str('host_name')} AS host_name, module AS module_name, ` +
      `COALESCE(${collectionOf('module')}, 'No collection used') AS collection_name, ` +
      `CASE WHEN regexp_matches(r, ${q(COLLECTION)}) THEN regexp_extract(r, ${q(COLLECTION)}, 1) || '.' || regexp_extract(r, ${q(COLLECTION)}, 2) || '.' || regexp_extract(r, ${q(COLLECTION)}, 3) ` +
      `WHEN regexp_matches(r, ${q(STANDALONE_ROLE)}) THEN r ELSE 'No role used' END AS role_name, ` +
      `CAST($2 AS VARCHAR) AS install_uuid, ${int('job_remote_id')} AS job_remote_id, ` +
      `COALESCE(TRY_CAST("duration" AS DOUBLE), 0) AS duration ` +
      `FROM (SELECT *, COALESCE(${str('resolved_action')}, ${str('task_action')}) AS module, ${role} AS r FROM ${src}) ` +
      `WHERE ${str('task_action')} IS NOT NULL AND ${str('host_name')} IS NOT NULL`
    );
  }

  protected override scanMembers(): readonly string[] {
    return ['main_jobevent.csv'];
  }

  protected aggregateSql(from: string): string {
    const index = this.indexColumns.join(', ');
    return `SELECT ${index}, CAST(count(*) AS BIGINT), CAST(sum(duration) AS DOUBLE) FROM ${from} GROUP BY ${index}`;
  }
}
