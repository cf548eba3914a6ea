/**
 * job_host_summary.csv schema variants and their normalisation to one shape (schema 1.2):
 * 1.0 lacks host_remote_id, ansible_host_variable, ansible_connection_variable and job_created;
 * 1.1 lacks job_created; a development variant of 1.1 names host_remote_id `host_id`.
 */
export const JOB_HOST_SUMMARY_COLUMNS = [
  'id',
  'created',
  'modified',
  'host_name',
  'host_remote_id',
  'ansible_host_variable',
  'ansible_connection_variable',
  'changed',
  'dark',
  'failures',
  'ok',
  'processed',
  'skipped',
  'failed',
  'ignored',
  'rescued',
  'job_created',
  'job_remote_id',
  'job_template_remote_id',
  'job_template_name',
  'inventory_remote_id',
  'inventory_name',
  'organization_remote_id',
  'organization_name',
  'project_remote_id',
  'project_name',
] as const;
export type JobHostSummaryColumn = (typeof JOB_HOST_SUMMARY_COLUMNS)[number];
export type JobHostSummarySchema = '1.0' | '1.1' | '1.1-host_id' | '1.2';

/** Other names a canonical column has had. */
export const JOB_HOST_SUMMARY_ALIASES: Readonly<Partial<Record<JobHostSummaryColumn, readonly string[]>>> = {
  host_remote_id: ['host_id'],
};

/** Which variant a header is (by its columns; later additions such as 1.4's extra columns are ignored). */
export function jobHostSummarySchema(header: readonly string[]): JobHostSummarySchema {
  const has = new Set(header);
  if (has.has('job_created')) return '1.2';
  if (has.has('host_id') && !has.has('host_remote_id')) return '1.1-host_id';
  if (has.has('ansible_host_variable') || has.has('host_remote_id')) return '1.1';
  return '1.0';
}

/**
 * For each canonical column, the header column that holds it, or null when this variant lacks
 * it (the value is then NULL, e.g. job_created for 1.0/1.1).
 */
export function mapJobHostSummaryHeader(header: readonly string[]): Record<JobHostSummaryColumn, string | null> {
  const has = new Set(header);
  const out = {} as Record<JobHostSummaryColumn, string | null>;
  for (const c of JOB_HOST_SUMMARY_COLUMNS) {
    out[c] = has.has(c) ? c : (JOB_HOST_SUMMARY_ALIASES[c]?.find((a) => has.has(a)) ?? null);
  }
  return out;
}

/**
 * What a CSV member of a tarball must look like to be read at all: its header is one of the
 * collector's known versions (column for column, in order, after `aliases`), and the columns
 * Tally counts with parse (`integers` as whole numbers, `timestamps` as timestamps; empty = NULL).
 * Anything else refuses the whole tarball.
 */
export interface CsvSchema {
  /** Known headers by collector version. */
  readonly versions: Readonly<Record<string, readonly string[]>>;
  /** Other names a column has had: `{alias: canonical}` (applied before matching a version). */
  readonly aliases?: Readonly<Record<string, string>>;
  /** Columns read as counts or ids: each value must be an integer (or empty). */
  readonly integers: readonly string[];
  /** Columns read as times: each value must be a timestamp (or empty). */
  readonly timestamps: readonly string[];
}

const JHS_10 = [
  'id', 'created', 'modified', 'host_name', 'changed', 'dark', 'failures', 'ok', 'processed', 'skipped', 'failed', 'ignored',
  'rescued', 'job_remote_id', 'job_template_remote_id', 'job_template_name', 'inventory_remote_id', 'inventory_name',
  'organization_remote_id', 'organization_name', 'project_remote_id', 'project_name',
] as const;
const JHS_11 = [...JHS_10.slice(0, 4), 'host_remote_id', 'ansible_host_variable', 'ansible_connection_variable', ...JHS_10.slice(4)];
const MAIN_HOST_10 = [
  'host_name', 'host_id', 'inventory_remote_id', 'inventory_name', 'organization_remote_id', 'organization_name',
  'last_automation', 'ansible_host_variable', 'canonical_facts', 'facts',
] as const;

/** The CSV members the dataframes read, by member name (see metrics-utility.md §1.5 and the collectors). */
export const CSV_SCHEMAS: Readonly<Record<string, CsvSchema>> = {
  'job_host_summary.csv': {
    versions: { '1.0': JHS_10, '1.1': JHS_11, '1.2': JOB_HOST_SUMMARY_COLUMNS },
    aliases: Object.fromEntries(Object.entries(JOB_HOST_SUMMARY_ALIASES).flatMap(([c, names]) => (names ?? []).map((a) => [a, c]))),
    integers: ['dark', 'failures', 'ok', 'skipped', 'ignored', 'rescued', 'job_remote_id'],
    timestamps: ['created', 'job_created'],
  },
  'main_indirectmanagednodeaudit.csv': {
    versions: {
      '1.0': [
        'id', 'created', 'host_name', 'host_remote_id', 'canonical_facts', 'facts', 'events', 'task_runs', 'job_created',
        'job_remote_id', 'job_template_remote_id', 'job_template_name', 'inventory_remote_id', 'inventory_name',
        'organization_remote_id', 'organization_name', 'project_remote_id', 'project_name',
      ],
    },
    integers: ['task_runs', 'job_remote_id'],
    timestamps: ['created', 'job_created'],
  },
  'main_jobevent.csv': {
    versions: {
      '1.0': [
        'main_jobhostsummary_id', 'main_jobhostsummary_created', 'id', 'created', 'modified', 'job_created', 'event',
        'task_action', 'resolved_action', 'resolved_role', 'duration', 'failed', 'changed', 'playbook', 'play', 'task', 'role',
        'job_remote_id', 'host_remote_id', 'host_name',
      ],
    },
    integers: ['job_remote_id'],
    timestamps: [],
  },
  'main_host.csv': { versions: { '1.0': MAIN_HOST_10 }, integers: [], timestamps: ['last_automation'] },
  'main_host_daily.csv': { versions: { '1.0': MAIN_HOST_10 }, integers: [], timestamps: ['last_automation'] },
  'host_metric.csv': {
    versions: {
      '1.0': [
        'hostname', 'host_id', 'first_automation', 'last_automation', 'automated_counter', 'deleted_counter', 'last_deleted',
        'deleted', 'ansible_product_serial', 'ansible_machine_id', 'ansible_host_variable', 'ansible_connection_variable',
      ],
    },
    integers: ['host_id', 'automated_counter', 'deleted_counter'],
    timestamps: ['first_automation', 'last_automation', 'last_deleted'],
  },
  'data_collection_status.csv': {
    versions: { '1.0': ['collection_start_timestamp', 'since', 'until', 'file_name', 'status', 'elapsed'] },
    integers: [],
    timestamps: ['collection_start_timestamp', 'since', 'until'],
  },
};

/**
 * Which known version `header` (the CSV's column names, in order) is, or why it is none. A member
 * without a schema here has no known version.
 */
export function csvHeaderVersion(member: string, header: readonly string[]): { version: string } | { error: string } {
  const schema = CSV_SCHEMAS[member];
  if (!schema) return { error: `no known schema for ${member}` };
  const canonical = header.map((c) => schema.aliases?.[c] ?? c);
  for (const [version, columns] of Object.entries(schema.versions)) {
    if (columns.length === canonical.length && columns.every((c, i) => canonical[i] === c)) return { version };
  }
  // Say how it differs from the closest version (fewest columns out of place).
  const differences = Object.entries(schema.versions).map(([version, columns]) => {
    const unexpected = canonical.filter((c) => !columns.includes(c));
    const missing = columns.filter((c) => !canonical.includes(c));
    return { version, unexpected, missing, score: unexpected.length + missing.length };
  });
  const best = differences.sort((a, b) => a.score - b.score)[0]!;
  const parts = [
    best.unexpected.length ? `unexpected ${best.unexpected.map((c) => `"${c}"`).join(', ')}` : '',
    best.missing.length ? `missing ${best.missing.map((c) => `"${c}"`).join(', ')}` : '',
  ].filter(Boolean);
  const what = parts.length ? parts.join('; ') : 'columns out of order or repeated';
  return { error: `header is not a known ${member} schema (${Object.keys(schema.versions).join(', ')}); closest ${best.version}: ${what}` };
}
