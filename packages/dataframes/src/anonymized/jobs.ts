import { epochMicros, idText, maxOf, minOf, num, pgBool, type Row, type RowFold, sortedSet } from './input.js';

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

/** The common aggregations of one group, added job by job (pandas' sums, max and min skip NaN). */
class GroupStats {
  /** Jobs added (a job with several rows counts each; `jobs_total` counts distinct ids). */
  rows = 0;
  private failed = 0;
  private neverStarted = 0;
  private dur = 0;
  private durOk = 0;
  private durFail = 0;
  private wait = 0;
  private durMax: number | null = null;
  private durMin: number | null = null;
  private waitMax: number | null = null;
  private waitMin: number | null = null;
  private readonly ids = new Set<string>();
  private readonly templates = new Set<string>();
  private readonly inventories = new Set<string>();
  readonly versions = new Set<string>();
  readonly types = new Set<string>();

  add(j: Job): void {
    this.rows++;
    if (j.id !== null) this.ids.add(j.id);
    if (j.failed) this.failed++;
    if (j.neverStarted) this.neverStarted++;
    if (j.duration !== null) {
      this.dur += j.duration;
      if (j.failed) this.durFail += j.duration;
      else this.durOk += j.duration;
      this.durMax = maxOf(this.durMax, j.duration);
      this.durMin = minOf(this.durMin, j.duration);
    }
    if (j.waiting !== null) {
      this.wait += j.waiting;
      this.waitMax = maxOf(this.waitMax, j.waiting);
      this.waitMin = minOf(this.waitMin, j.waiting);
    }
    if (j.template !== null) this.templates.add(j.template);
    if (j.inventory !== null) this.inventories.add(j.inventory);
    if (j.ansibleVersion !== null) this.versions.add(j.ansibleVersion);
    if (j.model !== null) this.types.add(j.model);
  }

  stats(): JobStats & { templates: string[]; inventories: string[] } {
    const templates = sortedSet(this.templates);
    const inventories = sortedSet(this.inventories);
    return {
      jobs_total: this.ids.size,
      jobs_failed_total: this.failed,
      jobs_successful_total: this.rows - this.failed,
      jobs_never_started_total: this.neverStarted,
      job_duration_maximum_seconds: this.durMax,
      job_duration_minimum_seconds: this.durMin,
      jobs_duration_total_seconds: this.dur,
      jobs_successful_duration_total_seconds: this.durOk,
      jobs_failed_duration_total_seconds: this.durFail,
      job_waiting_time_maximum_seconds: this.waitMax,
      job_waiting_time_minimum_seconds: this.waitMin,
      job_waiting_time_total_seconds: this.wait,
      templates,
      inventories,
      templates_total: templates.length,
      inventories_total: inventories.length,
    };
  }
}

/** pandas `groupby(key)`: NaN keys dropped; `sortedGroups` lists them in key order. */
function addTo(groups: Map<string, GroupStats>, k: string | null, j: Job): void {
  if (k === null) return;
  let g = groups.get(k);
  if (!g) {
    g = new GroupStats();
    groups.set(k, g);
  }
  g.add(j);
}
const sortedGroups = (groups: Map<string, GroupStats>): [string, GroupStats][] =>
  [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** `prepare` of one unified_jobs batch, row by row: finished jobs only. */
export class JobsFold implements RowFold<JobsBatch> {
  private readonly all = new GroupStats();
  private jobs = 0;
  private readonly byType = new Map<string, GroupStats>();
  private readonly byLaunch = new Map<string, GroupStats>();
  private readonly byVersion = new Map<string, GroupStats>();
  private readonly organizations = new Set<string>();
  private forks = 0;
  private readonly scmTypes = new Set<string>();
  private readonly collections = new Map<string, CollectionAcc>();

  row(r: Row): void {
    if (r.finished === null || r.finished === undefined) return;
    const j = toJob(r);
    this.jobs++;
    this.all.add(j);
    addTo(this.byType, j.model, j);
    addTo(this.byLaunch, j.launchType, j);
    addTo(this.byVersion, j.ansibleVersion, j);
    if (r.organization_name != null) this.organizations.add(r.organization_name);
    this.forks += num(r.forks) ?? 0;
    if (r.scm_type != null && r.scm_type.trim() !== '') this.scmTypes.add(r.scm_type);
    addCollections(this.collections, j);
  }

  done(): JobsBatch {
    if (this.jobs === 0) {
      return { by_job_type: [], by_launch_type: [], by_ansible_version: [], by_controller_version: [], organizations: [], forks_total: 0, scm_types: [], installed_collections: [] };
    }
    return {
      by_job_type: sortedGroups(this.byType).map(([k, g]) => ({ job_type: k, ...g.stats(), ansible_versions: sortedSet(g.versions), is_automation: k === 'job' })),
      by_launch_type: sortedGroups(this.byLaunch).map(([k, g]) => ({ launch_type: k, ...g.stats(), job_types: sortedSet(g.types), ansible_versions: sortedSet(g.versions) })),
      by_ansible_version: sortedGroups(this.byVersion).map(([k, g]) => ({ ansible_version: k, ...g.stats(), job_types: sortedSet(g.types) })),
      by_controller_version: [{ ...this.all.stats(), ansible_versions: sortedSet(this.all.versions), job_types: sortedSet(this.all.types) }],
      organizations: sortedSet(this.organizations),
      forks_total: this.forks,
      scm_types: sortedSet(this.scmTypes),
      installed_collections: [...this.collections.values()].map(collectionStats).sort(compareCollections),
    };
  }
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

/** One (collection, version) of the batch: the jobs that installed it, folded as any other group. */
interface CollectionAcc {
  name: string;
  version: string;
  group: GroupStats;
}

/** `_process_collections_from_jobs`: the job joins each (collection, version) of its installed_collections. */
function addCollections(byKey: Map<string, CollectionAcc>, j: Job): void {
  const data = parseCollections(j.installedCollections);
  if (!data) return;
  for (const [name, info] of Object.entries(data)) {
    if (info === null || typeof info !== 'object' || Array.isArray(info)) continue;
    const version = (info as Record<string, unknown>).version;
    if (!version) continue;
    const key = JSON.stringify([name, String(version)]);
    let acc = byKey.get(key);
    if (!acc) {
      acc = { name, version: String(version), group: new GroupStats() };
      byKey.set(key, acc);
    }
    acc.group.add(j);
  }
}

/** A collection's entry, in the reference's key order: its jobs counted by rows, not by distinct ids. */
function collectionStats(acc: CollectionAcc): CollectionStats {
  const s = acc.group.stats();
  return {
    collection_name: acc.name,
    collection_version: acc.version,
    job_count: acc.group.rows,
    jobs_failed_total: s.jobs_failed_total,
    jobs_successful_total: s.jobs_successful_total,
    jobs_never_started_total: s.jobs_never_started_total,
    jobs_duration_total_seconds: s.jobs_duration_total_seconds,
    jobs_successful_duration_total_seconds: s.jobs_successful_duration_total_seconds,
    jobs_failed_duration_total_seconds: s.jobs_failed_duration_total_seconds,
    job_duration_maximum_seconds: s.job_duration_maximum_seconds,
    job_duration_minimum_seconds: s.job_duration_minimum_seconds,
    job_waiting_time_total_seconds: s.job_waiting_time_total_seconds,
    job_waiting_time_maximum_seconds: s.job_waiting_time_maximum_seconds,
    job_waiting_time_minimum_seconds: s.job_waiting_time_minimum_seconds,
    templates: s.templates,
    inventories: s.inventories,
    templates_total: s.templates_total,
    inventories_total: s.inventories_total,
    ansible_versions: sortedSet(acc.group.versions),
  };
}

function compareCollections(a: CollectionStats, b: CollectionStats): number {
  if (a.collection_name !== b.collection_name) return a.collection_name < b.collection_name ? -1 : 1;
  return a.collection_version < b.collection_version ? -1 : a.collection_version > b.collection_version ? 1 : 0;
}
