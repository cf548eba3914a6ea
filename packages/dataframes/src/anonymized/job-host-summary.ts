import { idText, num, type Row, type RowFold, sortedSet } from './input.js';

/**
 * The job_host_summary_service rollup of the newest metrics-utility (`jobhostsummary_anonymized_rollup.py`,
 * the version with `by_ansible_version` and `host_ids`): per batch, host rows are summed per job
 * (`job_remote_id`), then per job type, launch type and ansible version; batches are summed per
 * group. The sums of `dark` and `failures` are named `unreachable_total` and `failed_total`, the
 * names `flatten_json_report` reads: the newest reference's tests expect them there (big_test1:
 * `failed_total == 1` for one failed task); the readable code of that version names them
 * `dark_total` and `failures_total`, which would leave them 0.
 */

export interface HostStats {
  [key: string]: unknown;
  unreachable_total: number;
  failed_total: number;
  ok_total: number;
  skipped_total: number;
  ignored_total: number;
  rescued_total: number;
  successful_hosts_total: number;
  failed_hosts_total: number;
  unreachable_hosts_total: number;
}

export interface JhsBatch {
  by_job_type: HostStats[];
  by_launch_type: HostStats[];
  by_ansible_version: HostStats[];
  job_host_pairs_total: number;
  host_ids: string[];
}

/** CSV counter → its sum's name. */
const COUNTERS = [['dark', 'unreachable_total'], ['failures', 'failed_total'], ['ok', 'ok_total'], ['skipped', 'skipped_total'], ['ignored', 'ignored_total'], ['rescued', 'rescued_total']] as const;

interface PerJob extends HostStats {
  job_type: string | null;
  launch_type: string | null;
  ansible_version: string | null;
}

function zero(): HostStats {
  return { unreachable_total: 0, failed_total: 0, ok_total: 0, skipped_total: 0, ignored_total: 0, rescued_total: 0, successful_hosts_total: 0, failed_hosts_total: 0, unreachable_hosts_total: 0 };
}

function addStats(into: HostStats, s: HostStats): void {
  for (const k of Object.keys(zero()) as (keyof HostStats & string)[]) into[k] = (into[k] as number) + (s[k] as number);
}

/**
 * `_aggregate_by_job_remote_id`, row by row: sums per job; its type, launch type and version are
 * the first non-null. Only the per-job sums and the distinct host ids are kept.
 */
export class JobHostSummaryFold implements RowFold<JhsBatch> {
  private readonly jobs = new Map<string, PerJob>();
  private readonly hostIds = new Set<string>();
  private rows = 0;

  row(r: Row): void {
    this.rows++;
    const host = idText(r.host_remote_id);
    if (host !== null) this.hostIds.add(host);
    const id = idText(r.job_remote_id);
    if (id === null) return;
    let j = this.jobs.get(id);
    if (!j) {
      j = { ...zero(), job_type: null, launch_type: null, ansible_version: null };
      this.jobs.set(id, j);
    }
    for (const [c, total] of COUNTERS) j[total] += num(r[c]) ?? 0;
    // host_outcome: unreachable (dark > 0) over failed (failures > 0) over successful.
    if ((num(r.dark) ?? 0) > 0) j.unreachable_hosts_total++;
    else if ((num(r.failures) ?? 0) > 0) j.failed_hosts_total++;
    else j.successful_hosts_total++;
    j.job_type ??= r.model ?? null;
    j.launch_type ??= r.launch_type ?? null;
    j.ansible_version ??= r.ansible_version ?? null;
  }

  done(): JhsBatch {
    if (this.rows === 0) return { by_job_type: [], by_launch_type: [], by_ansible_version: [], job_host_pairs_total: 0, host_ids: [] };
    const jobs = [...this.jobs.values()];
    return {
      by_job_type: groupJobs(jobs, 'job_type'),
      by_launch_type: groupJobs(jobs, 'launch_type'),
      by_ansible_version: groupJobs(jobs, 'ansible_version'),
      job_host_pairs_total: this.rows,
      host_ids: sortedSet(this.hostIds),
    };
  }
}

function groupJobs(jobs: readonly PerJob[], key: 'job_type' | 'launch_type' | 'ansible_version'): HostStats[] {
  const groups = new Map<string, { stats: HostStats; types: Set<string>; launches: Set<string> }>();
  for (const j of jobs) {
    const k = j[key];
    if (k === null) continue;
    let g = groups.get(k);
    if (!g) {
      g = { stats: zero(), types: new Set(), launches: new Set() };
      groups.set(k, g);
    }
    addStats(g.stats, j);
    if (j.job_type !== null) g.types.add(j.job_type);
    if (j.launch_type !== null) g.launches.add(j.launch_type);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, g]) => {
      const item: HostStats = { [key]: k, ...g.stats };
      if (key !== 'job_type') Object.assign(item, { job_types: sortedSet(g.types), job_type_total: g.types.size });
      if (key === 'ansible_version') Object.assign(item, { launch_types: sortedSet(g.launches), launch_type_total: g.launches.size });
      return item;
    });
}

const listOf = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : []);

function mergeGroups(all: HostStats[], add: HostStats[], key: string): HostStats[] {
  if (all.length === 0) return add;
  if (add.length === 0) return all;
  const byKey = new Map<unknown, HostStats>(all.map((i) => [i[key], i]));
  for (const item of add) {
    const prev = byKey.get(item[key]);
    if (!prev) {
      byKey.set(item[key], item);
      continue;
    }
    const m: HostStats = { ...prev };
    addStats(m, item);
    for (const c of ['job_type_total', 'launch_type_total']) if (c in prev || c in item) m[c] = ((prev[c] as number) ?? 0) + ((item[c] as number) ?? 0);
    for (const c of ['job_types', 'launch_types']) if (c in prev || c in item) m[c] = sortedSet([...listOf(prev[c]), ...listOf(item[c])]);
    if ('job_types' in m) m.job_type_total = listOf(m.job_types).length;
    if ('launch_types' in m) m.launch_type_total = listOf(m.launch_types).length;
    byKey.set(item[key], m);
  }
  return [...byKey.values()].sort((x, y) => (String(x[key]) < String(y[key]) ? -1 : String(x[key]) > String(y[key]) ? 1 : 0));
}

export function mergeJobHostSummary(all: JhsBatch | undefined, add: JhsBatch): JhsBatch {
  if (!all) return add;
  return {
    by_job_type: mergeGroups(all.by_job_type, add.by_job_type, 'job_type'),
    by_launch_type: mergeGroups(all.by_launch_type, add.by_launch_type, 'launch_type'),
    by_ansible_version: mergeGroups(all.by_ansible_version, add.by_ansible_version, 'ansible_version'),
    job_host_pairs_total: all.job_host_pairs_total + add.job_host_pairs_total,
    host_ids: sortedSet([...all.host_ids, ...add.host_ids]),
  };
}
