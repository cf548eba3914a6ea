import { closureGroups, codePointCompare, daysBetween, dedupGroups, extreme, type HostMetricRecord, hostnameGroups, identifier } from './renewal-dedup.js';
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
}

/** The Renewal Guidance deduplicators (METRICS_UTILITY_DEDUPLICATOR); `renewal-closure` is Tally's own. */
export type RenewalDeduplicator = 'renewal' | 'renewal-hostname' | 'renewal-experimental' | 'renewal-closure';

const time = (d: Date | null) => (d ? d.getTime() : Number.NaN);
const joinSet = (values: (string | null)[]) => [...new Set(values.filter((v): v is string => v !== null))].sort(codePointCompare).join(', ');

/**
 * The group's representative: the first of its records (in group order) that is not deleted and
 * was automated last — the reference's stable sort by (deleted, last_automation desc).
 */
function representative(rs: readonly HostMetricRecord[]): HostMetricRecord {
  let best = rs[0]!;
  for (const r of rs) {
    if (Number(r.deleted) !== Number(best.deleted)) {
      if (!r.deleted) best = r;
      continue;
    }
    const a = time(r.lastAutomation);
    const b = time(best.lastAutomation);
    if (!Number.isNaN(a) && (Number.isNaN(b) || a > b)) best = r;
  }
  return best;
}

/** Fold one group of records into a managed node (the reference's record fields, its sets sorted). */
export function foldGroup(records: readonly HostMetricRecord[], group: readonly number[]): RenewalNode {
  if (group.length === 1) return single(records[group[0]!]!);
  const rs = group.map((i) => records[i]!);
  const first = extreme(rs.map((r) => r.firstAutomation), Math.min);
  const last = extreme(rs.map((r) => r.lastAutomation), Math.max);
  const names = (pick: (r: HostMetricRecord) => boolean) => new Set(rs.filter(pick).map((r) => r.hostname)).size;
  return {
    hostname: representative(rs).hostname,
    firstAutomation: first,
    lastAutomation: last,
    automatedCounter: rs.reduce((s, r) => s + r.automatedCounter, 0),
    daysAutomated: daysBetween(first, last),
    deletedCounter: rs.reduce((s, r) => s + r.deletedCounter, 0),
    lastDeleted: extreme(rs.map((r) => r.lastDeleted), Math.max),
    recordCount: names(() => true),
    activeRecordCount: names((r) => !r.deleted),
    deletedRecordCount: names((r) => r.deleted),
    hostnames: joinSet(rs.map((r) => r.hostname)),
    ansibleHosts: joinSet(rs.map((r) => identifier('ansibleHostVariable', r.ansibleHostVariable))),
    serials: joinSet(rs.map((r) => identifier('ansibleProductSerial', r.ansibleProductSerial))),
    machineIds: joinSet(rs.map((r) => identifier('ansibleMachineId', r.ansibleMachineId))),
    deleted: rs.every((r) => r.deleted),
  };
}

/** A group of one record (most groups): the same fields without the set and sort machinery. */
function single(r: HostMetricRecord): RenewalNode {
  const first = r.firstAutomation;
  const last = r.lastAutomation;
  return {
    hostname: r.hostname,
    firstAutomation: first,
    lastAutomation: last,
    automatedCounter: r.automatedCounter,
    daysAutomated: daysBetween(first, last),
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
  const fold = (groups: number[][]) => groups.map((g) => foldGroup(records, g));
  switch (opts.deduplicator ?? 'renewal') {
    case 'renewal':
      return fold(dedupGroups(records, iterations));
    case 'renewal-closure':
      return fold(closureGroups(records, iterations));
    case 'renewal-hostname':
      return fold(hostnameGroups(records));
    case 'renewal-experimental':
      return mergeBySerials(records, fold(hostnameGroups(records)));
  }
}
