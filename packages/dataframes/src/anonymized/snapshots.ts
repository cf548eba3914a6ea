import { epochMicros, pgBool, type RowFold, sortedSet } from './input.js';

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
export function executionEnvironmentsFold(): RowFold<ExecutionEnvironments> {
  let total = 0, managed = 0;
  return {
    row(r) {
      total++;
      if (pgBool(r.managed) === true) managed++;
    },
    done: () => ({ execution_environments_total: total, execution_environments_default_total: managed, execution_environments_custom_total: total - managed }),
  };
}

/** `TableMetadataAnonymizedRollup.prepare`: four `{table}_…` numbers per row, in row order. */
export function tableMetadataFold(): RowFold<Record<string, number>> {
  const out: Record<string, number> = {};
  return {
    row(r) {
      for (const c of ['estimated_row_count', 'total_size_bytes', 'table_size_bytes', 'indexes_size_bytes']) {
        // Python's int() of the read number truncates toward zero.
        out[`${r.tablename}_${c}`] = Math.trunc(Number(r[c]));
      }
    },
    done: () => out,
  };
}

/** `ControllerVersionAnonymizedRollup.prepare`: the column as a list, in row order. */
export const controllerVersionsFold = (): RowFold<(string | null)[]> => columnFold('controller_version');

/** A column's values in row order; none when the header lacks it. */
function columnFold(column: string): RowFold<(string | null)[]> {
  const out: (string | null)[] = [];
  let has = false;
  return {
    header(columns) {
      has = columns.includes(column);
    },
    row(r) {
      if (has) out.push(r[column] ?? null);
    },
    done: () => out,
  };
}

/** `FeatureFlagsAnonymizedRollup.prepare`: the enabled flags' names, in row order. */
export const featureFlagsFold = (): RowFold<(string | null)[]> => columnFold('name');

/** `CredentialsAnonymizedRollup.prepare`: the batch's distinct credential types, sorted. */
export function credentialTypesFold(): RowFold<string[]> {
  const types = new Set<string>();
  return {
    row(r) {
      if (r.credential_type != null) types.add(r.credential_type);
    },
    done: () => sortedSet(types),
  };
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
export function taskExecutionsFold(): RowFold<TaskExecutions[]> {
  const groups = new Map<string, { runs: number; timed: number; sum: number; min: number; max: number }>();
  return {
    row(r) {
      if (r.collector_type == null) return;
      const type = r.collector_type.replace(/^"+|"+$/g, '');
      let g = groups.get(type);
      if (!g) {
        g = { runs: 0, timed: 0, sum: 0, min: Infinity, max: -Infinity };
        groups.set(type, g);
      }
      g.runs++;
      const started = epochMicros(r.started_at);
      const completed = epochMicros(r.completed_at);
      if (started === null || completed === null) return;
      const d = (completed - started) / 1e6;
      g.timed++;
      g.sum += d;
      g.min = Math.min(g.min, d);
      g.max = Math.max(g.max, d);
    },
    done: () =>
      [...groups.keys()].sort().map((type) => {
        const g = groups.get(type)!;
        const timed = g.timed > 0;
        return {
          collector_type: type,
          executions_total: g.runs,
          executions_missing_total: Math.max(0, (SNAPSHOT.includes(type) ? 1 : 24) - g.runs),
          execution_duration_total_seconds: timed ? g.sum : null,
          execution_duration_minimum_seconds: timed ? g.min : null,
          execution_duration_maximum_seconds: timed ? g.max : null,
        };
      }),
  };
}
