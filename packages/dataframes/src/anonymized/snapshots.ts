import { epochMicros, pgBool, type Row, sortedSet } from './input.js';

/**
 * The small rollups of the newest metrics-utility. The snapshot ones (`merge` returns the newer
 * batch) keep the last tarball's member; credential types are united over all batches.
 */

export interface ExecutionEnvironments {
  execution_environments_total: number;
  execution_environments_default_total: number;
  execution_environments_custom_total: number;
}

/** `ExecutionEnvironmentsAnonymizedRollup.prepare`: managed `t` counts as default, the rest as custom. */
export function prepareExecutionEnvironments(rows: readonly Row[]): ExecutionEnvironments {
  const total = rows.length;
  const managed = rows.filter((r) => pgBool(r.managed) === true).length;
  return { execution_environments_total: total, execution_environments_default_total: managed, execution_environments_custom_total: total - managed };
}

/** `TableMetadataAnonymizedRollup.prepare`: four `{table}_…` numbers per row, in row order. */
export function prepareTableMetadata(rows: readonly Row[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) {
    for (const c of ['estimated_row_count', 'total_size_bytes', 'table_size_bytes', 'indexes_size_bytes']) {
      // Python's int() of the read number truncates toward zero.
      out[`${r.tablename}_${c}`] = Math.trunc(Number(r[c]));
    }
  }
  return out;
}

/** `ControllerVersionAnonymizedRollup.prepare`: the column as a list, in row order. */
export function prepareControllerVersions(rows: readonly Row[]): (string | null)[] {
  return rows.length > 0 && 'controller_version' in rows[0]! ? rows.map((r) => r.controller_version ?? null) : [];
}

/** `FeatureFlagsAnonymizedRollup.prepare`: the enabled flags' names, in row order. */
export function prepareFeatureFlags(rows: readonly Row[]): (string | null)[] {
  return rows.length > 0 && 'name' in rows[0]! ? rows.map((r) => r.name ?? null) : [];
}

/** `CredentialsAnonymizedRollup.prepare`: the batch's distinct credential types, sorted. */
export function prepareCredentialTypes(rows: readonly Row[]): string[] {
  return sortedSet(rows.flatMap((r) => (r.credential_type == null ? [] : [r.credential_type])));
}

/** Collectors the metrics service runs once a day; the others (hourly) are expected 24 times. */
const SNAPSHOT = ['execution_environments', 'table_metadata', 'controller_version_service', 'feature_flags_service'];

export interface TaskExecutions {
  collector_type: string;
  executions_total: number;
  executions_missing_total: number;
  execution_duration_total_seconds: number | null;
  execution_duration_minimum_seconds: number | null;
  execution_duration_maximum_seconds: number | null;
}

/**
 * The task-executions rollup as the newest reference's tests pin it (its code of that version was
 * not readable): per collector type (surrounding `"` stripped: Tally's CSV keeps the jsonb
 * quotes), the runs, the runs missing from the expected 24 (hourly and unknown collectors) or 1
 * (snapshots), and completed − started durations of the runs that have both.
 */
export function prepareTaskExecutions(rows: readonly Row[]): TaskExecutions[] {
  const groups = new Map<string, number[]>();
  const counts = new Map<string, number>();
  for (const r of rows) {
    if (r.collector_type == null) continue;
    const type = r.collector_type.replace(/^"+|"+$/g, '');
    counts.set(type, (counts.get(type) ?? 0) + 1);
    const durations = groups.get(type) ?? [];
    groups.set(type, durations);
    const started = epochMicros(r.started_at);
    const completed = epochMicros(r.completed_at);
    if (started !== null && completed !== null) durations.push((completed - started) / 1e6);
  }
  return [...counts.keys()].sort().map((type) => {
    const total = counts.get(type)!;
    const d = groups.get(type)!;
    const expected = SNAPSHOT.includes(type) ? 1 : 24;
    return {
      collector_type: type,
      executions_total: total,
      executions_missing_total: Math.max(0, expected - total),
      execution_duration_total_seconds: d.length > 0 ? d.reduce((s, x) => s + x, 0) : null,
      execution_duration_minimum_seconds: d.length > 0 ? Math.min(...d) : null,
      execution_duration_maximum_seconds: d.length > 0 ? Math.max(...d) : null,
    };
  });
}
