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
  /** The microseconds past each time's millisecond (PostgreSQL keeps them, a Date cannot); absent: none. */
  micros?: TimeMicros;
}

/** Microseconds (0–999) past the millisecond of the first and last automation and the last deletion. */
export interface TimeMicros {
  firstAutomation: number;
  lastAutomation: number;
  lastDeleted: number;
}

export const NO_MICROS: TimeMicros = Object.freeze({ firstAutomation: 0, lastAutomation: 0, lastDeleted: 0 });

/** A time as microseconds since 1970 (NaN when missing): what the reference compares and subtracts. */
export const epochMicros = (d: Date | null, micros = 0): number => (d ? d.getTime() * 1000 + micros : Number.NaN);

/** Microseconds since 1970 as a Date (the millisecond) and the microseconds past it. */
export function splitMicros(us: number): { date: Date | null; micros: number } {
  if (Number.isNaN(us)) return { date: null, micros: 0 };
  const ms = Math.floor(us / 1000);
  return { date: new Date(ms), micros: us - ms * 1000 };
}

/** A record's times in microseconds since 1970 (NaN when missing). */
export function recordMicros(r: HostMetricRecord): { first: number; last: number; deleted: number } {
  const m = r.micros ?? NO_MICROS;
  return { first: epochMicros(r.firstAutomation, m.firstAutomation), last: epochMicros(r.lastAutomation, m.lastAutomation), deleted: epochMicros(r.lastDeleted, m.lastDeleted) };
}

/** The identifiers, in the order the reference looks them up within one iteration. */
const KEYS = ['hostname', 'ansibleHostVariable', 'ansibleProductSerial', 'ansibleMachineId'] as const;
type IdentifierKey = (typeof KEYS)[number];

/**
 * The reference's null cleanup: `''` is missing for ansible_host, `''` and `'NA'` for serial and
 * machine id; a host name is never missing (even `''` names one).
 */
export function identifier(key: IdentifierKey, v: string | null): string | null {
  if (key === 'hostname') return v;
  if (v === null || v === '') return null;
  if (v === 'NA' && (key === 'ansibleProductSerial' || key === 'ansibleMachineId')) return null;
  return v;
}

/** Code-point order (Python's string order, and PostgreSQL's under the "C" collation). */
export function codePointCompare(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
  }
  return a.length - b.length;
}

const US_PER_DAY = 86_400_000_000;

/** The earliest (`pick` = Math.min) or latest of times in microseconds, ignoring missing ones (NaN). */
export function extreme(us: readonly number[], pick: (a: number, b: number) => number): number {
  let best = Number.NaN;
  for (const t of us) if (!Number.isNaN(t)) best = Number.isNaN(best) ? t : pick(best, t);
  return best;
}

/**
 * Whole days from first to last automation, given in microseconds (the reference's `.dt.days` of
 * their difference, negatives 0; 0 when either is missing). Integer arithmetic: a span a
 * microsecond short of a day is 0 days.
 */
export function daysBetween(first: number, last: number): number {
  if (Number.isNaN(first) || Number.isNaN(last) || last <= first) return 0;
  const span = last - first;
  let days = Math.floor(span / US_PER_DAY);
  if (days * US_PER_DAY > span) days -= 1;
  else if ((days + 1) * US_PER_DAY <= span) days += 1;
  return days;
}

/**
 * Records in the order the reference reads them: `CONCAT(hostname, '___', COALESCE(host id, 0))`.
 * `readHostMetrics` leaves that sort to PostgreSQL under the database's collation; this is the same
 * key in code-point order (the "C" collation), for records from anywhere else.
 */
export function inReferenceOrder(records: readonly HostMetricRecord[]): HostMetricRecord[] {
  const keyed = records.map((r) => ({ r, k: `${r.hostname}___${r.hostId}` }));
  return keyed.sort((a, b) => codePointCompare(a.k, b.k)).map((x) => x.r);
}

/**
 * Each identifier interned: `ids[k][i]` is record i's value number for key k (-1 when missing); the
 * records holding value v are `members[k][start[k][v] … start[k][v + 1])`, in table order (flat
 * arrays rather than one small array per value: far less for the garbage collector).
 */
interface IdentifierIndex {
  ids: Int32Array[];
  start: Int32Array[];
  members: Int32Array[];
}

function indexIdentifiers(records: readonly HostMetricRecord[]): IdentifierIndex {
  const n = records.length;
  const ids = KEYS.map(() => new Int32Array(n));
  const start: Int32Array[] = [];
  const members: Int32Array[] = [];
  KEYS.forEach((key, k) => {
    const numbers = new Map<string, number>();
    const id = ids[k]!;
    for (let i = 0; i < n; i++) {
      const v = identifier(key, records[i]![key]);
      if (v === null) id[i] = -1;
      else {
        let num = numbers.get(v);
        if (num === undefined) {
          num = numbers.size;
          numbers.set(v, num);
        }
        id[i] = num;
      }
    }
    const from = new Int32Array(numbers.size + 1);
    for (let i = 0; i < n; i++) if (id[i]! >= 0) from[id[i]! + 1]!++;
    for (let v = 0; v < numbers.size; v++) from[v + 1]! += from[v]!;
    const fill = from.slice(0, numbers.size);
    const list = new Int32Array(from[numbers.size]!);
    for (let i = 0; i < n; i++) if (id[i]! >= 0) list[fill[id[i]!]!++] = i;
    start.push(from);
    members.push(list);
  });
  return { ids, start, members };
}

/**
 * The reference's Renewal Guidance grouping (metrics-utility `DedupRenewal`), given the records in
 * its order (see `inReferenceOrder`). Each record not yet in a group starts one with every record of
 * its host name; then, `iterations` times, the group takes every record sharing its host names, then
 * its ansible_host values, then serials, then machine ids — each lookup over the group as the
 * previous one left it, and over the whole table, so a record can join several groups (and count in
 * each). A group's records are in the order the reference finds them: lookup by lookup, each
 * lookup's new records in table order.
 *
 * Same result, without its quadratic scans: identifiers are interned and indexed once, and a group
 * looks each value up once (a value's records are all in the group after its first lookup), so the
 * cost is the sum of the groups' sizes.
 */
export function dedupGroups(records: readonly HostMetricRecord[], iterations = 3): number[][] {
  const { ids, start, members } = indexIdentifiers(records);
  const inGroup = new Int32Array(records.length).fill(-1);
  const looked = start.map((from) => new Int32Array(from.length - 1).fill(-1));
  const processed = new Uint8Array(records.length);
  const groups: number[][] = [];
  for (let i = 0; i < records.length; i++) {
    if (processed[i]) continue;
    const g = groups.length;
    const group: number[] = [];
    const host = ids[0]![i]!;
    looked[0]![host] = g;
    for (let p = start[0]![host]!; p < start[0]![host + 1]!; p++) {
      const j = members[0]![p]!;
      inGroup[j] = g;
      group.push(j);
    }
    const seen = KEYS.map(() => 0); // how many of the group's records each key has looked at
    for (let it = 0; it < iterations; it++) {
      const before = group.length;
      for (let k = 0; k < KEYS.length; k++) {
        const found: number[] = [];
        for (const end = group.length; seen[k]! < end; seen[k]!++) {
          const v = ids[k]![group[seen[k]!]!]!;
          if (v < 0 || looked[k]![v] === g) continue;
          looked[k]![v] = g;
          for (let p = start[k]![v]!; p < start[k]![v + 1]!; p++) {
            const j = members[k]![p]!;
            if (inGroup[j] === g) continue;
            inGroup[j] = g;
            found.push(j);
          }
        }
        if (found.length > 1) found.sort((a, b) => a - b);
        for (const j of found) group.push(j);
      }
      if (group.length === before) break;
    }
    for (const j of group) processed[j] = 1;
    groups.push(group);
  }
  return groups;
}

/**
 * Tally's own rule (deduplicator `renewal-closure`): the reference's breadth of lookups, but every
 * record belongs to exactly one group — no automation is counted twice. A group starts from a
 * record's host name and grows `iterations` times by every record sharing any identifier with the
 * records it took in the previous round; records taken by an earlier group are not taken again.
 */
export function closureGroups(records: readonly HostMetricRecord[], iterations = 3): number[][] {
  const { ids, start, members } = indexIdentifiers(records);
  const assigned = new Uint8Array(records.length);
  const expanded = start.map((from) => new Uint8Array(from.length - 1));
  const groups: number[][] = [];
  const claim = (k: number, v: number, group: number[], fresh: number[]) => {
    if (expanded[k]![v]) return;
    expanded[k]![v] = 1;
    for (let p = start[k]![v]!; p < start[k]![v + 1]!; p++) {
      const j = members[k]![p]!;
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
    claim(0, ids[0]![i]!, group, frontier);
    for (let it = 0; it < iterations && frontier.length; it++) {
      const next: number[] = [];
      for (const j of frontier) {
        for (let k = 0; k < KEYS.length; k++) {
          const v = ids[k]![j]!;
          if (v >= 0) claim(k, v, group, next);
        }
      }
      frontier = next;
    }
    groups.push(group);
  }
  return groups;
}

/**
 * metrics-utility's `DedupRenewalHostname` (deduplicator `renewal-hostname`): records with the same
 * ansible_host, or host name when ansible_host is missing, form one group; no iteration.
 */
export function hostnameGroups(records: readonly HostMetricRecord[]): number[][] {
  const byKey = new Map<string, number[]>();
  records.forEach((r, i) => {
    const key = identifier('ansibleHostVariable', r.ansibleHostVariable) ?? r.hostname;
    const group = byKey.get(key);
    if (group) group.push(i);
    else byKey.set(key, [i]);
  });
  return [...byKey.values()];
}
