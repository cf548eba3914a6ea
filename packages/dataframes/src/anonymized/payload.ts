import type { Logger } from '@tally/core';
import { type ExtractFailure, extractAll } from '@tally/extractors';
import type { Store } from '@tally/storage';
import { baseIndirect, extractCollectionName, type IndirectBatch, indirectFold, mergeIndirect } from './indirect.js';
import { type JhsBatch, JobHostSummaryFold, mergeJobHostSummary } from './job-host-summary.js';
import { foldMember, type RollupTarball, type RowFold, sortedSet } from './input.js';
import { type JobsBatch, JobsFold, type JobStats } from './jobs.js';
import { baseJobs, mergeJobs } from './jobs-merge.js';
import {
  controllerVersionsFold,
  credentialTypesFold,
  type ExecutionEnvironments,
  executionEnvironmentsFold,
  featureFlagsFold,
  type TaskExecutions,
  tableMetadataFold,
  taskExecutionsFold,
} from './snapshots.js';

/** The newest metrics-utility's `AnonymizedPayload` (anonymized_rollups/types.py), as plain JSON. */
export interface AnonymizedPayload {
  statistics: Record<string, number | null>;
  rollup_period_ansible_versions: string[];
  rollup_period_scm_types: string[];
  rollup_period_credential_types: string[];
  jobs_by_job_type: Record<string, unknown>[];
  jobs_by_launch_type: Record<string, unknown>[];
  jobs_by_ansible_version: Record<string, unknown>[];
  jobs_by_controller_version: Record<string, unknown>[];
  jobs_by_installed_collections_versions: Record<string, unknown>[];
  table_metadata: Record<string, number>;
  controller_versions: (string | null)[];
  feature_flags: (string | null)[];
  observability_by_tasks: TaskExecutions[];
  indirect_nodes_by_collection: { collection: string; host_count: number }[];
  indirect_nodes_by_module: { module: string; host_count: number }[];
}

export interface AnonymizedRollupOptions {
  /**
   * The collection names of the reference's `collections.json` (its keys). Installed collections
   * not named there are dropped from the payload, as the reference drops them.
   */
  knownCollections: Iterable<string>;
}

/** The day's per-collector rollups (`base` of the merged batches). */
interface Rollups {
  jobs: JobsBatch | undefined;
  jhs: JhsBatch | undefined;
  credentials: string[] | undefined;
  ee: ExecutionEnvironments | undefined;
  tableMetadata: Record<string, number> | undefined;
  controllerVersions: (string | null)[] | undefined;
  featureFlags: (string | null)[] | undefined;
  indirect: IndirectBatch | undefined;
  taskExecutions: TaskExecutions[] | undefined;
}

/** The member's row count of each tarball that has it. */
function countFold(): RowFold<number> {
  let n = 0;
  return { row: () => void n++, done: () => n };
}

const EVENTS = 'main_jobevent_service.csv';

/**
 * A day with job events is refused: the events part of the payload (module, collection and role
 * stats, the event statistics) is not computed, and a payload without it would pass for complete.
 */
async function refuseEvents(tarballs: readonly RollupTarball[]): Promise<void> {
  for (const t of tarballs) {
    const n = await foldMember(t, EVENTS, countFold());
    if (n !== undefined && n > 0) throw new Error(`${t.name}: ${EVENTS}: ${n} event rows; the events part of the anonymized rollup is not implemented`);
  }
}

/** Each tarball's member streamed through a fresh fold, its batch handed on in tarball order. */
async function each<T>(tarballs: readonly RollupTarball[], member: string, fold: () => RowFold<T>, fn: (batch: T) => void): Promise<void> {
  for (const t of tarballs) {
    const batch = await foldMember(t, member, fold());
    if (batch !== undefined) fn(batch);
  }
}

/** Every tarball is one batch: prepared, then merged in name order (snapshots: the last wins). */
async function rollups(tarballs: readonly RollupTarball[]): Promise<Rollups> {
  const r: Rollups = { jobs: undefined, jhs: undefined, credentials: undefined, ee: undefined, tableMetadata: undefined, controllerVersions: undefined, featureFlags: undefined, indirect: undefined, taskExecutions: undefined };
  const sorted = [...tarballs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  await refuseEvents(sorted);
  await each(sorted, 'unified_jobs.csv', () => new JobsFold(), (b) => { r.jobs = mergeJobs(r.jobs, b); });
  await each(sorted, 'job_host_summary_service.csv', () => new JobHostSummaryFold(), (b) => { r.jhs = mergeJobHostSummary(r.jhs, b); });
  await each(sorted, 'credentials_service.csv', credentialTypesFold, (b) => { r.credentials = sortedSet([...(r.credentials ?? []), ...b]); });
  await each(sorted, 'execution_environments.csv', executionEnvironmentsFold, (b) => { r.ee = b; });
  await each(sorted, 'table_metadata.csv', tableMetadataFold, (b) => { r.tableMetadata = b; });
  await each(sorted, 'controller_version_service.csv', controllerVersionsFold, (b) => { r.controllerVersions = b; });
  await each(sorted, 'feature_flags_service.csv', featureFlagsFold, (b) => { r.featureFlags = b; });
  await each(sorted, 'task_executions_service.csv', taskExecutionsFold, (b) => { r.taskExecutions = b; });
  await each(sorted, 'main_indirectmanagednodeaudit.csv', indirectFold, (b) => { r.indirect = mergeIndirect(r.indirect, b); });
  return r;
}

const HOST_FIELDS = [
  'unreachable_total', 'failed_total', 'ok_total', 'skipped_total', 'ignored_total', 'rescued_total',
  'successful_hosts_total', 'failed_hosts_total', 'unreachable_hosts_total',
] as const;

/** `_merge_jobs_with_host_summary`: the job_host_summary group of the same key adds its host fields, 0 where it has none. */
function withHosts(jobs: JobStats[], hosts: Record<string, unknown>[], key: string, version: string | null): Record<string, unknown>[] {
  const byKey = new Map(hosts.map((h) => [String(h[key] ?? 'None'), h]));
  return jobs.map((j) => {
    const h = byKey.get(String(j[key] ?? 'None'));
    const merged: Record<string, unknown> = { ...j };
    for (const f of HOST_FIELDS) merged[f] = h && typeof h[f] === 'number' ? h[f] : 0;
    merged.controller_version = version;
    return merged;
  });
}

const sum = (items: readonly Record<string, unknown>[], f: string): number => items.reduce((s, i) => s + (typeof i[f] === 'number' ? (i[f] as number) : 0), 0);

function statistics(r: Rollups, byJobType: Record<string, unknown>[], jobs: ReturnType<typeof baseJobs>): Record<string, number | null> {
  const ee = r.ee ?? { execution_environments_total: 0, execution_environments_default_total: 0, execution_environments_custom_total: 0 };
  const jhsByType = r.jhs?.by_job_type ?? [];
  const [ok, failed, skipped, unreachable, ignored] = ['ok_total', 'failed_total', 'skipped_total', 'unreachable_total', 'ignored_total'].map((f) => sum(byJobType, f));
  return {
    rollup_period_execution_environments_total: ee.execution_environments_default_total + ee.execution_environments_custom_total,
    rollup_period_EE_default_total: ee.execution_environments_default_total,
    rollup_period_EE_custom_total: ee.execution_environments_custom_total,
    rollup_period_jobs_total: sum(jobs.by_job_type, 'jobs_total'),
    rollup_period_jobs_successful: sum(jobs.by_job_type, 'jobs_successful_total'),
    rollup_period_jobs_failed: sum(jobs.by_job_type, 'jobs_failed_total'),
    rollup_period_jobs_duration_all_statuses_seconds: sum(jobs.by_job_type, 'jobs_duration_total_seconds'),
    rollup_period_jobs_successful_duration_total_seconds: sum(jobs.by_job_type, 'jobs_successful_duration_total_seconds'),
    rollup_period_jobs_failed_duration_total_seconds: sum(jobs.by_job_type, 'jobs_failed_duration_total_seconds'),
    rollup_period_organizations_total: jobs.organizations_total || 0,
    rollup_period_forks_total: jobs.forks_total || 0,
    rollup_period_templates_total: sum(jobs.by_job_type, 'templates_total'),
    rollup_period_inventories_total: sum(jobs.by_job_type, 'inventories_total'),
    rollup_period_unique_hosts_total: new Set(r.jhs?.host_ids ?? []).size,
    rollup_period_job_host_pairs_total: r.jhs?.job_host_pairs_total ?? 0,
    rollup_period_successful_hosts_total: sum(jhsByType, 'successful_hosts_total'),
    rollup_period_failed_hosts_total: sum(jhsByType, 'failed_hosts_total'),
    rollup_period_unreachable_hosts_total: sum(jhsByType, 'unreachable_hosts_total'),
    rollup_period_indirect_managed_nodes_all_total: baseIndirect(r.indirect).indirect_nodes_total,
    rollup_period_tasks_total: ok! + failed! + skipped! + unreachable! + ignored!,
    rollup_period_task_ok_total: ok!,
    rollup_period_task_failed_total: failed!,
    rollup_period_task_skipped_total: skipped!,
    rollup_period_task_unreachable_total: unreachable!,
    rollup_period_task_ignored_total: ignored!,
  };
}

/** `_extract_jobs_by_installed_collections_versions`, then `anonymize_data`'s known-collection filter. */
function installedCollections(jobs: ReturnType<typeof baseJobs>, known: ReadonlySet<string>): Record<string, unknown>[] {
  return jobs.installed_collections
    .filter((c) => c.collection_name.trim() !== '' && known.has(c.collection_name.trim()))
    .map((c) => ({
      collection: c.collection_name, version: c.collection_version, jobs_total: c.job_count,
      jobs_failed_total: c.jobs_failed_total, jobs_successful_total: c.jobs_successful_total, jobs_never_started_total: c.jobs_never_started_total,
      jobs_duration_total_seconds: c.jobs_duration_total_seconds, jobs_successful_duration_total_seconds: c.jobs_successful_duration_total_seconds,
      jobs_failed_duration_total_seconds: c.jobs_failed_duration_total_seconds, job_duration_maximum_seconds: c.job_duration_maximum_seconds,
      job_duration_minimum_seconds: c.job_duration_minimum_seconds, job_waiting_time_total_seconds: c.job_waiting_time_total_seconds,
      job_waiting_time_maximum_seconds: c.job_waiting_time_maximum_seconds, job_waiting_time_minimum_seconds: c.job_waiting_time_minimum_seconds,
      templates_total: c.templates_total, inventories_total: c.inventories_total, ansible_versions: c.ansible_versions,
    }));
}

/**
 * The anonymized rollup of one day as the newest metrics-utility computes it
 * (`anonymize_rollups` → `flatten_json_report` → `anonymize_data`) from the extracted tarballs of
 * that day. A day with job events is refused (the events part is not implemented; see the README).
 */
export async function anonymizedRollup(tarballs: readonly RollupTarball[], opts: AnonymizedRollupOptions): Promise<AnonymizedPayload> {
  const r = await rollups(tarballs);
  const known = new Set(opts.knownCollections);
  const indirect = baseIndirect(r.indirect);
  const jobs = baseJobs(r.jobs);
  const versions = r.controllerVersions ?? [];
  const first = versions.length > 0 ? versions[0]! : null;
  const jhs = r.jhs ?? { by_job_type: [], by_launch_type: [], by_ansible_version: [], job_host_pairs_total: 0, host_ids: [] };
  const byJobType = withHosts(jobs.by_job_type, jhs.by_job_type, 'job_type', first);
  const byController = jobs.jobs_by_controller_version.map((j) => ({ ...j, controller_version: first }));
  return {
    statistics: statistics(r, byJobType, jobs),
    rollup_period_ansible_versions: sortedSet(jobs.by_job_type.flatMap((j) => j.ansible_versions ?? [])),
    rollup_period_scm_types: jobs.scm_types,
    rollup_period_credential_types: r.credentials ?? [],
    jobs_by_job_type: byJobType,
    jobs_by_launch_type: withHosts(jobs.by_launch_type, jhs.by_launch_type, 'launch_type', first),
    jobs_by_ansible_version: withHosts(jobs.by_ansible_version, jhs.by_ansible_version, 'ansible_version', first),
    jobs_by_controller_version: byController,
    jobs_by_installed_collections_versions: installedCollections(jobs, known),
    table_metadata: r.tableMetadata ?? {},
    controller_versions: versions,
    feature_flags: r.featureFlags ?? [],
    observability_by_tasks: r.taskExecutions ?? [],
    // anonymize_data: only collections (and modules of collections) named in collections.json.
    indirect_nodes_by_collection: indirect.by_collection.filter((i) => known.has(i.collection.trim())),
    indirect_nodes_by_module: indirect.by_module.filter((i) => known.has(extractCollectionName(i.module) ?? '')),
  };
}

export interface AnonymizedDayOptions extends AnonymizedRollupOptions {
  storage: Store;
  /** Any instant of the UTC day: its tarballs are those of `[day 00:00, next day 00:00)`. */
  day: Date;
  logger?: Logger;
}

export interface AnonymizedDay {
  payload: AnonymizedPayload;
  /** The tarballs read (storage names, in name order). */
  tarballs: string[];
  /** Tarballs that could not be extracted: they contribute nothing. */
  failures: ExtractFailure[];
}

/** `anonymizedRollup` of the tarballs of one UTC day in `storage`, extracted for the call. */
export async function anonymizedRollupOfDay(opts: AnonymizedDayOptions): Promise<AnonymizedDay> {
  const since = new Date(Math.floor(opts.day.getTime() / 86_400_000) * 86_400_000);
  const until = new Date(since.getTime() + 86_400_000);
  const failures: ExtractFailure[] = [];
  const tarballs = await extractAll({ storage: opts.storage, since, until, ...(opts.logger ? { logger: opts.logger } : {}) }, failures);
  try {
    const payload = await anonymizedRollup(tarballs, opts);
    return { payload, tarballs: tarballs.map((t) => t.name).sort(), failures };
  } finally {
    for (const t of tarballs) await t.release();
  }
}
