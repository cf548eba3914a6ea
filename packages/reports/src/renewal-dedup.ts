/** One main_hostmetric row joined to one inventory host (or none). */
export interface HostMetricRecord {
  hostname: string;
  hostId: number;
  firstAutomation: Date | null;
  lastAutomation: Date | null;
  automatedCounter: number;
  deletedCounter: number;
  lastDeleted: Date | null;
  deleted: boolean;
  ansibleProductSerial: string | null;
  ansibleMachineId: string | null;
  ansibleHostVariable: string | null;
}

const KEYS = ['hostname', 'ansibleHostVariable', 'ansibleProductSerial', 'ansibleMachineId'] as const;

/** `''` and `'NA'` count as missing identifiers (the reference null-ifies them). */
export function identifier(key: (typeof KEYS)[number], v: string | null): string | null {
  if (v === null || v === '') return null;
  if (v === 'NA' && (key === 'ansibleProductSerial' || key === 'ansibleMachineId')) return null;
  return v;
}

/**
 * Group records that share a host name, ansible_host, serial or machine id. As in the
 * reference, a group starts from the rows sharing one host name and grows `iterations`
 * times by every row sharing any identifier with it; unlike its quadratic scan, every
 * identifier value is expanded once through an index, so the whole pass is linear.
 * Returns groups of record indexes, in order of their first record.
 */
export function dedupGroups(records: readonly HostMetricRecord[], iterations = 3): number[][] {
  const nk = KEYS.length;
  // ids[i * nk + k]: the k-th identifier of record i, or null
  // (pushed, not preallocated: a large `new Array(n)` starts in slow dictionary mode)
  const ids: (string | null)[] = [];
  const index = KEYS.map(() => new Map<string, number[]>());
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    for (let k = 0; k < nk; k++) {
      const v = identifier(KEYS[k]!, r[KEYS[k]!]);
      ids.push(v);
      if (v === null) continue;
      const list = index[k]!.get(v);
      if (list) list.push(i);
      else index[k]!.set(v, [i]);
    }
  }
  const assigned = new Uint8Array(records.length);
  const expanded = KEYS.map(() => new Set<string>());
  const groups: number[][] = [];
  const claim = (k: number, v: string, group: number[], fresh: number[]) => {
    const seen = expanded[k]!;
    if (seen.has(v)) return;
    seen.add(v);
    for (const j of index[k]!.get(v)!) {
      if (assigned[j]) continue;
      assigned[j] = 1;
      group.push(j);
      fresh.push(j);
    }
  };
  for (let i = 0; i < records.length; i++) {
    if (assigned[i]) continue;
    assigned[i] = 1;
    const group: number[] = [i];
    let frontier: number[] = [i];
    claim(0, ids[i * nk]!, group, frontier);
    for (let it = 0; it < iterations && frontier.length; it++) {
      const next: number[] = [];
      for (const j of frontier) {
        for (let k = 0; k < nk; k++) {
          const v = ids[j * nk + k];
          if (v != null) claim(k, v, group, next);
        }
      }
      frontier = next;
    }
    groups.push(group);
  }
  return groups;
}

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

const DAY = 86_400_000;
const t = (d: Date | null) => (d ? d.getTime() : Number.NaN);
const joinSet = (values: (string | null)[]) => [...new Set(values.filter((v): v is string => v !== null))].sort().join(', ');
function extreme(ds: (Date | null)[], pick: (a: number, b: number) => number): Date | null {
  const ts = ds.filter((d): d is Date => d !== null).map((d) => d.getTime());
  return ts.length ? new Date(ts.reduce((a, b) => pick(a, b))) : null;
}

/** Fold each group into one managed node named after its most recent non-deleted host. */
export function renewalNodes(records: readonly HostMetricRecord[], iterations = 3): RenewalNode[] {
  return dedupGroups(records, iterations).map((idx) => {
    const rs = idx.map((i) => records[i]!);
    const named = [...rs].sort((a, b) => Number(a.deleted) - Number(b.deleted) || (t(b.lastAutomation) || 0) - (t(a.lastAutomation) || 0))[0]!;
    const first = extreme(rs.map((r) => r.firstAutomation), Math.min);
    const last = extreme(rs.map((r) => r.lastAutomation), Math.max);
    const days = first && last ? Math.max(0, Math.floor((last.getTime() - first.getTime()) / DAY)) : 0;
    return {
      hostname: named.hostname,
      firstAutomation: first,
      lastAutomation: last,
      automatedCounter: rs.reduce((s, r) => s + r.automatedCounter, 0),
      daysAutomated: days,
      deletedCounter: rs.reduce((s, r) => s + r.deletedCounter, 0),
      lastDeleted: extreme(rs.map((r) => r.lastDeleted), Math.max),
      recordCount: new Set(rs.map((r) => r.hostname)).size,
      activeRecordCount: new Set(rs.filter((r) => !r.deleted).map((r) => r.hostname)).size,
      deletedRecordCount: new Set(rs.filter((r) => r.deleted).map((r) => r.hostname)).size,
      hostnames: joinSet(rs.map((r) => r.hostname)),
      ansibleHosts: joinSet(rs.map((r) => identifier('ansibleHostVariable', r.ansibleHostVariable))),
      serials: joinSet(rs.map((r) => identifier('ansibleProductSerial', r.ansibleProductSerial))),
      machineIds: joinSet(rs.map((r) => identifier('ansibleMachineId', r.ansibleMachineId))),
      deleted: rs.every((r) => r.deleted),
    };
  });
}
