import {
  closureGroups, daysBetween, dedupGroups, epochMicros, extreme, type HostMetricRecord, hostnameGroups, identifier, NO_MICROS, recordMicros, splitMicros, type TimeMicros,
} from './renewal-dedup.js';
import { mergeBySerials } from './renewal-experimental.js';

/** One de-duplicated managed node. */
export interface RenewalNode {
  hostname: string;
  firstAutomation: Date | null;
  lastAutomation: Date | null;
  automatedCounter: number;
  daysAutomated: number;
  deletedCounter: number;
  lastDeleted: Date | null;
  recordCount: number;
  activeRecordCount: number;
  deletedRecordCount: number;
  hostnames: string;
  ansibleHosts: string;
  serials: string;
  machineIds: string;
  deleted: boolean;
  /** The microseconds past each time's millisecond: the times are the reference's to the microsecond. */
  micros: TimeMicros;
}

/** A node's times in microseconds since 1970 (NaN when missing). */
export function nodeMicros(n: RenewalNode): { first: number; last: number; deleted: number } {
  const m = n.micros;
  return { first: epochMicros(n.firstAutomation, m.firstAutomation), last: epochMicros(n.lastAutomation, m.lastAutomation), deleted: epochMicros(n.lastDeleted, m.lastDeleted) };
}

type NodeTimes = Pick<RenewalNode, 'firstAutomation' | 'lastAutomation' | 'daysAutomated' | 'lastDeleted' | 'micros'>;

/** A node's time fields from its times in microseconds since 1970 (NaN: missing). */
export function nodeTimes(first: number, last: number, deleted: number): NodeTimes {
  const f = splitMicros(first);
  const l = splitMicros(last);
  const d = splitMicros(deleted);
  return {
    firstAutomation: f.date,
    lastAutomation: l.date,
    daysAutomated: daysBetween(first, last),
    lastDeleted: d.date,
    micros: { firstAutomation: f.micros, lastAutomation: l.micros, lastDeleted: d.micros },
  };
}

/** The Renewal Guidance deduplicators (METRICS_UTILITY_DEDUPLICATOR); `renewal-closure` is Tally's own. */
export type RenewalDeduplicator = 'renewal' | 'renewal-hostname' | 'renewal-experimental' | 'renewal-closure';

/**
 * The group's representative: the first of its records (in group order) that is not deleted and
 * was automated last — the reference's stable sort by (deleted, last_automation desc).
 */
function representative(rs: readonly HostMetricRecord[]): HostMetricRecord {
  const last = (r: HostMetricRecord) => epochMicros(r.lastAutomation, r.micros?.lastAutomation);
  let best = rs[0]!;
  let b = last(best);
  for (const r of rs) {
    if (Number(r.deleted) !== Number(best.deleted)) {
      if (!r.deleted) [best, b] = [r, last(r)];
      continue;
    }
    const a = last(r);
    if (!Number.isNaN(a) && (Number.isNaN(b) || a > b)) [best, b] = [r, a];
  }
  return best;
}

/** The listed fields: host name, then the identifiers after null cleanup. */
const LISTED = [
  (r: HostMetricRecord) => r.hostname,
  (r: HostMetricRecord) => identifier('ansibleHostVariable', r.ansibleHostVariable),
  (r: HostMetricRecord) => identifier('ansibleProductSerial', r.ansibleProductSerial),
  (r: HostMetricRecord) => identifier('ansibleMachineId', r.ansibleMachineId),
] as const;

/**
 * Each record's listed fields as ranks among their sorted distinct values (-1: missing): a group's
 * distinct sorted values are then a sort of small integers, not of strings — what makes groups of
 * thousands of records (dense inventories) cheap to list.
 */
interface ValueRanks {
  ranks: Int32Array[];
  values: string[][];
}

function rankValues(records: readonly HostMetricRecord[]): ValueRanks {
  const ranks: Int32Array[] = [];
  const values: string[][] = [];
  for (const get of LISTED) {
    const sorted = [...new Set(records.map(get).filter((v): v is string => v !== null))].sort();
    const rankOf = new Map(sorted.map((v, i) => [v, i]));
    const rank = new Int32Array(records.length);
    records.forEach((r, i) => {
      const value = get(r);
      rank[i] = value === null ? -1 : rankOf.get(value)!;
    });
    ranks.push(rank);
    values.push(sorted);
  }
  return { ranks, values };
}

/** The distinct ranks of field `k` over `group` (restricted to `keep`), sorted. */
function distinctRanks(v: ValueRanks, k: number, group: readonly number[], keep?: (i: number) => boolean): number[] {
  const ranks = v.ranks[k]!;
  const picked = new Int32Array(group.length);
  let n = 0;
  for (const i of group) if (!keep || keep(i)) picked[n++] = ranks[i]!;
  const sorted = picked.subarray(0, n).sort();
  const out: number[] = [];
  for (const x of sorted) if (x >= 0 && x !== out[out.length - 1]) out.push(x);
  return out;
}

/**
 * The reference folds dates with Python's built-in min/max over pandas values, and NaT compares
 * false with everything: a group whose first record (in the order found) has no date gets none,
 * else the extreme of the dates present. `sound` takes the extreme of the dates present always.
 */
function builtinExtreme(us: number[], pick: (a: number, b: number) => number, sound: boolean): number {
  return !sound && us.length > 0 && Number.isNaN(us[0]) ? Number.NaN : extreme(us, pick);
}

/** Fold one group of records into a managed node: the reference's record fields, lists sorted. */
function foldGroup(records: readonly HostMetricRecord[], group: readonly number[], v: ValueRanks, sound: boolean): RenewalNode {
  if (group.length === 1) return single(records[group[0]!]!);
  const rs = group.map((i) => records[i]!);
  const list = (k: number) => distinctRanks(v, k, group).map((x) => v.values[k]![x]!).join(', ');
  const names = distinctRanks(v, 0, group).length;
  const active = distinctRanks(v, 0, group, (i) => !records[i]!.deleted).length;
  const us = rs.map(recordMicros);
  const first = builtinExtreme(us.map((t) => t.first), Math.min, sound);
  const last = builtinExtreme(us.map((t) => t.last), Math.max, sound);
  const deleted = builtinExtreme(us.map((t) => t.deleted), Math.max, sound);
  const { micros, ...times } = nodeTimes(first, last, deleted);
  return {
    hostname: representative(rs).hostname,
    ...times,
    automatedCounter: rs.reduce((s, r) => s + r.automatedCounter, 0),
    deletedCounter: rs.reduce((s, r) => s + r.deletedCounter, 0),
    recordCount: names,
    activeRecordCount: active,
    deletedRecordCount: distinctRanks(v, 0, group, (i) => records[i]!.deleted).length,
    hostnames: list(0),
    ansibleHosts: list(1),
    serials: list(2),
    machineIds: list(3),
    deleted: active === 0,
    micros,
  };
}

/**
 * Fold groups of records into managed nodes. Dates fold as the reference's built-in min/max do
 * (see `builtinExtreme`) unless `sound`, which takes the extremes of the dates present.
 */
export function foldGroups(records: readonly HostMetricRecord[], groups: readonly (readonly number[])[], sound = false): RenewalNode[] {
  const ranks = rankValues(records);
  return groups.map((g) => foldGroup(records, g, ranks, sound));
}

/** A group of one record (most groups): the same fields without the set and sort machinery. */
function single(r: HostMetricRecord): RenewalNode {
  const us = recordMicros(r);
  return {
    hostname: r.hostname,
    firstAutomation: r.firstAutomation,
    lastAutomation: r.lastAutomation,
    automatedCounter: r.automatedCounter,
    daysAutomated: daysBetween(us.first, us.last),
    deletedCounter: r.deletedCounter,
    lastDeleted: r.lastDeleted,
    recordCount: 1,
    activeRecordCount: r.deleted ? 0 : 1,
    deletedRecordCount: r.deleted ? 1 : 0,
    hostnames: r.hostname,
    ansibleHosts: identifier('ansibleHostVariable', r.ansibleHostVariable) ?? '',
    serials: identifier('ansibleProductSerial', r.ansibleProductSerial) ?? '',
    machineIds: identifier('ansibleMachineId', r.ansibleMachineId) ?? '',
    deleted: r.deleted,
    micros: r.micros ?? NO_MICROS,
  };
}

export interface RenewalDedupOptions {
  /** METRICS_UTILITY_DEDUPLICATOR (default `renewal`, the reference's). */
  deduplicator?: RenewalDeduplicator;
  /** REPORT_RENEWAL_GUIDANCE_DEDUP_ITERATIONS (default 3); `renewal` and `renewal-closure` only. */
  iterations?: number;
}

/**
 * De-duplicate host-metric records, given in the reference's order (see `inReferenceOrder`), into
 * managed nodes with the chosen deduplicator.
 */
export function renewalNodes(records: readonly HostMetricRecord[], opts: RenewalDedupOptions = {}): RenewalNode[] {
  const iterations = opts.iterations ?? 3;
  const fold = (groups: number[][], sound = false) => foldGroups(records, groups, sound);
  switch (opts.deduplicator ?? 'renewal') {
    case 'renewal':
      return fold(dedupGroups(records, iterations));
    case 'renewal-closure':
      return fold(closureGroups(records, iterations), true);
    case 'renewal-hostname':
      return fold(hostnameGroups(records));
    case 'renewal-experimental':
      return mergeBySerials(records, fold(hostnameGroups(records)));
  }
}
