import { pgBool, type Row, sortedSet } from './input.js';

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
