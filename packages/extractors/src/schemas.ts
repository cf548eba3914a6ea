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
