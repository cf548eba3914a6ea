import { maxOf, minOf, sortedSet } from './input.js';
import type { CollectionStats, JobsBatch, JobStats } from './jobs.js';

/** `JobsAnonymizedRollup.merge` and `base`: batches summed per group, lists united. */

const SUMMED = [
  'jobs_total', 'jobs_failed_total', 'jobs_successful_total', 'jobs_never_started_total', 'jobs_duration_total_seconds',
  'jobs_successful_duration_total_seconds', 'jobs_failed_duration_total_seconds', 'job_waiting_time_total_seconds',
  'templates_total', 'inventories_total',
] as const;
const UNITED = ['templates', 'inventories', 'ansible_versions', 'job_types'] as const;

const numOr0 = (v: unknown): number => (typeof v === 'number' ? v : 0);
const listOf = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : []);

/** `_create_merged_item` of two items present in both batches. */
function mergeItem(a: JobStats, b: JobStats): JobStats {
  const m: JobStats = { ...a };
  for (const c of SUMMED) m[c] = numOr0(a[c]) + numOr0(b[c]);
  m.job_duration_maximum_seconds = maxOf(a.job_duration_maximum_seconds, b.job_duration_maximum_seconds);
  m.job_waiting_time_maximum_seconds = maxOf(a.job_waiting_time_maximum_seconds, b.job_waiting_time_maximum_seconds);
  m.job_duration_minimum_seconds = minOf(a.job_duration_minimum_seconds, b.job_duration_minimum_seconds);
  m.job_waiting_time_minimum_seconds = minOf(a.job_waiting_time_minimum_seconds, b.job_waiting_time_minimum_seconds);
  for (const c of UNITED) m[c] = sortedSet([...listOf(a[c]), ...listOf(b[c])]);
  m.templates_total = listOf(m.templates).length;
  m.inventories_total = listOf(m.inventories).length;
  return m;
}

/**
 * `_merge_stats_json`: groups of both batches by their key. The reference lists the merged
 * groups in Python set order (arbitrary); they are listed in key order here.
 */
function mergeGroups(all: JobStats[], add: JobStats[], key: string): JobStats[] {
  if (all.length === 0) return add;
  if (add.length === 0) return all;
  const byKey = new Map<unknown, JobStats>(all.map((i) => [i[key], i]));
  for (const item of add) {
    const prev = byKey.get(item[key]);
    byKey.set(item[key], prev ? mergeItem(prev, item) : item);
  }
  return [...byKey.values()].sort((x, y) => (String(x[key]) < String(y[key]) ? -1 : String(x[key]) > String(y[key]) ? 1 : 0));
}

function mergeCollection(a: CollectionStats, b: CollectionStats): CollectionStats {
  const templates = sortedSet([...a.templates, ...b.templates]);
  const inventories = sortedSet([...a.inventories, ...b.inventories]);
  return {
    ...a,
    job_count: a.job_count + b.job_count,
    jobs_failed_total: a.jobs_failed_total + b.jobs_failed_total,
    jobs_successful_total: a.jobs_successful_total + b.jobs_successful_total,
    jobs_never_started_total: a.jobs_never_started_total + b.jobs_never_started_total,
    jobs_duration_total_seconds: a.jobs_duration_total_seconds + b.jobs_duration_total_seconds,
    jobs_successful_duration_total_seconds: a.jobs_successful_duration_total_seconds + b.jobs_successful_duration_total_seconds,
    jobs_failed_duration_total_seconds: a.jobs_failed_duration_total_seconds + b.jobs_failed_duration_total_seconds,
    job_waiting_time_total_seconds: a.job_waiting_time_total_seconds + b.job_waiting_time_total_seconds,
    job_duration_maximum_seconds: maxOf(a.job_duration_maximum_seconds, b.job_duration_maximum_seconds),
    job_waiting_time_maximum_seconds: maxOf(a.job_waiting_time_maximum_seconds, b.job_waiting_time_maximum_seconds),
    job_duration_minimum_seconds: minOf(a.job_duration_minimum_seconds, b.job_duration_minimum_seconds),
    job_waiting_time_minimum_seconds: minOf(a.job_waiting_time_minimum_seconds, b.job_waiting_time_minimum_seconds),
    templates,
    inventories,
    templates_total: templates.length,
    inventories_total: inventories.length,
    ansible_versions: sortedSet([...a.ansible_versions, ...b.ansible_versions]),
  };
}

function mergeCollections(all: CollectionStats[], add: CollectionStats[]): CollectionStats[] {
  const byKey = new Map(all.map((c) => [JSON.stringify([c.collection_name, c.collection_version]), c]));
  for (const c of add) {
    const k = JSON.stringify([c.collection_name, c.collection_version]);
    const prev = byKey.get(k);
    byKey.set(k, prev ? mergeCollection(prev, c) : c);
  }
  return [...byKey.values()].sort((a, b) =>
    a.collection_name !== b.collection_name ? (a.collection_name < b.collection_name ? -1 : 1) : a.collection_version < b.collection_version ? -1 : a.collection_version > b.collection_version ? 1 : 0,
  );
}

export function mergeJobs(all: JobsBatch | undefined, add: JobsBatch): JobsBatch {
  if (!all) return add;
  const [a] = all.by_controller_version, [b] = add.by_controller_version;
  return {
    by_job_type: mergeGroups(all.by_job_type, add.by_job_type, 'job_type'),
    by_launch_type: mergeGroups(all.by_launch_type, add.by_launch_type, 'launch_type'),
    by_ansible_version: mergeGroups(all.by_ansible_version, add.by_ansible_version, 'ansible_version'),
    by_controller_version: a && b ? [mergeItem(a, b)] : a ? [a] : b ? [b] : [],
    organizations: sortedSet([...all.organizations, ...add.organizations]),
    forks_total: all.forks_total + add.forks_total,
    scm_types: sortedSet([...all.scm_types, ...add.scm_types]),
    installed_collections: mergeCollections(all.installed_collections, add.installed_collections),
  };
}

/** `base`'s JSON: the lists that served to count distinct values are dropped. */
export interface JobsBase {
  by_job_type: JobStats[];
  by_launch_type: JobStats[];
  by_ansible_version: JobStats[];
  jobs_by_controller_version: JobStats[];
  organizations_total: number | null;
  forks_total: number | null;
  jobs_total: number | null;
  installed_collections: CollectionStats[];
  scm_types: string[];
}

export function baseJobs(data: JobsBatch | undefined): JobsBase {
  const none = { by_job_type: [], by_launch_type: [], by_ansible_version: [], jobs_by_controller_version: [], installed_collections: [], scm_types: [] };
  if (!data) return { ...none, organizations_total: null, forks_total: null, jobs_total: null };
  if (data.by_job_type.length === 0 && data.by_launch_type.length === 0 && data.by_ansible_version.length === 0) {
    return { ...none, organizations_total: 0, forks_total: 0, jobs_total: 0 };
  }
  const strip = (items: JobStats[]) =>
    items.map(({ templates: _t, inventories: _i, job_types: _j, ...rest }) => rest as JobStats);
  return {
    by_job_type: strip(data.by_job_type),
    by_launch_type: strip(data.by_launch_type),
    by_ansible_version: strip(data.by_ansible_version),
    jobs_by_controller_version: strip(data.by_controller_version),
    organizations_total: data.organizations.length,
    forks_total: data.forks_total,
    jobs_total: data.by_job_type.reduce((s, i) => s + i.jobs_total, 0),
    installed_collections: data.installed_collections,
    scm_types: data.scm_types,
  };
}
