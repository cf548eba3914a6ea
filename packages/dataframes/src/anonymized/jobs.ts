import { epochMicros, idText, maxOf, minOf, num, pgBool, type Row, sortedSet } from './input.js';

/**
 * The unified_jobs rollup of the newest metrics-utility (`jobs_anonymized_rollup.py`): `prepare`
 * of each batch (tarball), `merge` of the batches, `base` of the day.
 */

/** One job-stats group of a batch or of the merged day (the reference's JSON item). */
export interface JobStats {
  [key: string]: unknown;
  jobs_total: number;
  jobs_failed_total: number;
  jobs_successful_total: number;
  jobs_never_started_total: number;
  job_duration_maximum_seconds: number | null;
  job_duration_minimum_seconds: number | null;
  jobs_duration_total_seconds: number;
  jobs_successful_duration_total_seconds: number;
  jobs_failed_duration_total_seconds: number;
  job_waiting_time_maximum_seconds: number | null;
  job_waiting_time_minimum_seconds: number | null;
  job_waiting_time_total_seconds: number;
  templates?: string[];
  inventories?: string[];
  templates_total: number;
  inventories_total: number;
  ansible_versions?: string[];
  job_types?: string[];
}

export interface JobsBatch {
  by_job_type: JobStats[];
  by_launch_type: JobStats[];
  by_ansible_version: JobStats[];
  by_controller_version: JobStats[];
  organizations: string[];
  forks_total: number;
  scm_types: string[];
  installed_collections: CollectionStats[];
}

export interface CollectionStats {
  collection_name: string;
  collection_version: string;
  job_count: number;
  jobs_failed_total: number;
  jobs_successful_total: number;
  jobs_never_started_total: number;
  jobs_duration_total_seconds: number;
  jobs_successful_duration_total_seconds: number;
  jobs_failed_duration_total_seconds: number;
  job_duration_maximum_seconds: number | null;
  job_duration_minimum_seconds: number | null;
  job_waiting_time_total_seconds: number;
  job_waiting_time_maximum_seconds: number | null;
  job_waiting_time_minimum_seconds: number | null;
  templates: string[];
  inventories: string[];
  templates_total: number;
  inventories_total: number;
  ansible_versions: string[];
}

/** A finished job, preprocessed as `_preprocess_dataframe` does. */
interface Job {
  id: string | null;
  model: string | null;
  launchType: string | null;
  ansibleVersion: string | null;
  failed: boolean;
  neverStarted: boolean;
  duration: number | null;
  waiting: number | null;
  template: string | null;
  inventory: string | null;
  installedCollections: string | null;
}

function toJob(r: Row): Job {
  const started = epochMicros(r.started);
  const finished = epochMicros(r.finished);
  const created = epochMicros(r.created);
  return {
    id: idText(r.id),
    model: r.model ?? null,
    launchType: r.launch_type ?? null,
    ansibleVersion: r.ansible_version ?? null,
    // `.replace({'t': True, 'f': False}).fillna(False).astype(bool)`: any other text is truthy.
    failed: r.failed === null || r.failed === undefined ? false : (pgBool(r.failed) ?? r.failed !== ''),
    neverStarted: started === null,
    duration: finished !== null && started !== null ? (finished - started) / 1e6 : null,
    waiting: started !== null && created !== null ? (started - created) / 1e6 : null,
    template: idText(r.unified_job_template_id),
    inventory: idText(r.inventory_id),
    installedCollections: r.installed_collections ?? null,
  };
}

/** The common aggregations of one group (pandas' sums, max and min skip NaN). */
function stats(jobs: readonly Job[]): JobStats {
  let durMax: number | null = null, durMin: number | null = null, waitMax: number | null = null, waitMin: number | null = null;
  let dur = 0, durOk = 0, durFail = 0, wait = 0, failed = 0, neverStarted = 0;
  for (const j of jobs) {
    if (j.failed) failed++;
    if (j.neverStarted) neverStarted++;
    if (j.duration !== null) {
      dur += j.duration;
      if (j.failed) durFail += j.duration;
      else durOk += j.duration;
      durMax = maxOf(durMax, j.duration);
      durMin = minOf(durMin, j.duration);
    }
    if (j.waiting !== null) {
      wait += j.waiting;
      waitMax = maxOf(waitMax, j.waiting);
      waitMin = minOf(waitMin, j.waiting);
    }
  }
  const templates = sortedSet(jobs.flatMap((j) => (j.template === null ? [] : [j.template])));
  const inventories = sortedSet(jobs.flatMap((j) => (j.inventory === null ? [] : [j.inventory])));
  return {
    jobs_total: new Set(jobs.flatMap((j) => (j.id === null ? [] : [j.id]))).size,
    jobs_failed_total: failed,
    jobs_successful_total: jobs.length - failed,
    jobs_never_started_total: neverStarted,
    job_duration_maximum_seconds: durMax,
    job_duration_minimum_seconds: durMin,
    jobs_duration_total_seconds: dur,
    jobs_successful_duration_total_seconds: durOk,
    jobs_failed_duration_total_seconds: durFail,
    job_waiting_time_maximum_seconds: waitMax,
    job_waiting_time_minimum_seconds: waitMin,
    job_waiting_time_total_seconds: wait,
    templates,
    inventories,
    templates_total: templates.length,
    inventories_total: inventories.length,
  };
}

const versionsOf = (jobs: readonly Job[]) => sortedSet(jobs.flatMap((j) => (j.ansibleVersion === null ? [] : [j.ansibleVersion])));
const typesOf = (jobs: readonly Job[]) => sortedSet(jobs.flatMap((j) => (j.model === null ? [] : [j.model])));

/** pandas `groupby(key)`: NaN keys dropped, groups in key order. */
function groupBy(jobs: readonly Job[], key: (j: Job) => string | null): [string, Job[]][] {
  const groups = new Map<string, Job[]>();
  for (const j of jobs) {
    const k = key(j);
    if (k === null) continue;
    const g = groups.get(k);
    if (g) g.push(j);
    else groups.set(k, [j]);
  }
  return [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export function prepareJobs(rows: readonly Row[]): JobsBatch {
  const finished = rows.filter((r) => r.finished !== null && r.finished !== undefined);
  const jobs = finished.map(toJob);
  if (jobs.length === 0) {
    return { by_job_type: [], by_launch_type: [], by_ansible_version: [], by_controller_version: [], organizations: [], forks_total: 0, scm_types: [], installed_collections: [] };
  }
  return {
    by_job_type: groupBy(jobs, (j) => j.model).map(([k, g]) => ({ job_type: k, ...stats(g), ansible_versions: versionsOf(g), is_automation: k === 'job' })),
    by_launch_type: groupBy(jobs, (j) => j.launchType).map(([k, g]) => ({ launch_type: k, ...stats(g), job_types: typesOf(g), ansible_versions: versionsOf(g) })),
    by_ansible_version: groupBy(jobs, (j) => j.ansibleVersion).map(([k, g]) => ({ ansible_version: k, ...stats(g), job_types: typesOf(g) })),
    by_controller_version: [{ ...stats(jobs), ansible_versions: versionsOf(jobs), job_types: typesOf(jobs) }],
    organizations: sortedSet(finished.flatMap((r) => (r.organization_name == null ? [] : [r.organization_name]))),
    forks_total: finished.reduce((s, r) => s + (num(r.forks) ?? 0), 0),
    scm_types: sortedSet(finished.flatMap((r) => (r.scm_type == null || r.scm_type.trim() === '' ? [] : [r.scm_type]))),
    installed_collections: installedCollections(jobs),
  };
}

function parseCollections(text: string | null): Record<string, unknown> | null {
  if (!text) return null;
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function blankCollection(name: string, version: string): CollectionStats {
  return {
    collection_name: name, collection_version: version, job_count: 0, jobs_failed_total: 0, jobs_successful_total: 0, jobs_never_started_total: 0,
    jobs_duration_total_seconds: 0, jobs_successful_duration_total_seconds: 0, jobs_failed_duration_total_seconds: 0,
    job_duration_maximum_seconds: null, job_duration_minimum_seconds: null, job_waiting_time_total_seconds: 0,
    job_waiting_time_maximum_seconds: null, job_waiting_time_minimum_seconds: null,
    templates: [], inventories: [], templates_total: 0, inventories_total: 0, ansible_versions: [],
  };
}

/** `_process_collections_from_jobs`: per (collection, version) of each job's installed_collections. */
function installedCollections(jobs: readonly Job[]): CollectionStats[] {
  const byKey = new Map<string, CollectionStats>();
  for (const j of jobs) {
    const data = parseCollections(j.installedCollections);
    if (!data) continue;
    for (const [name, info] of Object.entries(data)) {
      if (info === null || typeof info !== 'object' || Array.isArray(info)) continue;
      const version = (info as Record<string, unknown>).version;
      if (!version) continue;
      const key = JSON.stringify([name, String(version)]);
      const s = byKey.get(key) ?? blankCollection(name, String(version));
      byKey.set(key, s);
      addJob(s, j);
    }
  }
  return [...byKey.values()].sort(compareCollections);
}

function addJob(s: CollectionStats, j: Job): void {
  s.job_count++;
  if (j.failed) s.jobs_failed_total++;
  else s.jobs_successful_total++;
  if (j.neverStarted) s.jobs_never_started_total++;
  if (j.duration !== null) {
    s.jobs_duration_total_seconds += j.duration;
    if (j.failed) s.jobs_failed_duration_total_seconds += j.duration;
    else s.jobs_successful_duration_total_seconds += j.duration;
    s.job_duration_maximum_seconds = maxOf(s.job_duration_maximum_seconds, j.duration);
    s.job_duration_minimum_seconds = minOf(s.job_duration_minimum_seconds, j.duration);
  }
  if (j.waiting !== null) {
    s.job_waiting_time_total_seconds += j.waiting;
    s.job_waiting_time_maximum_seconds = maxOf(s.job_waiting_time_maximum_seconds, j.waiting);
    s.job_waiting_time_minimum_seconds = minOf(s.job_waiting_time_minimum_seconds, j.waiting);
  }
  if (j.template !== null) s.templates = sortedSet([...s.templates, j.template]);
  if (j.inventory !== null) s.inventories = sortedSet([...s.inventories, j.inventory]);
  if (j.ansibleVersion !== null) s.ansible_versions = sortedSet([...s.ansible_versions, j.ansibleVersion]);
  s.templates_total = s.templates.length;
  s.inventories_total = s.inventories.length;
}

function compareCollections(a: CollectionStats, b: CollectionStats): number {
  if (a.collection_name !== b.collection_name) return a.collection_name < b.collection_name ? -1 : 1;
  return a.collection_version < b.collection_version ? -1 : a.collection_version > b.collection_version ? 1 : 0;
}
