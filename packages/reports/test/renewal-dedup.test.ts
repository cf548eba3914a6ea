import { type HostMetricRecord, type RenewalNode, renewalNodes } from '@tally/reports';
import { inReferenceOrder } from '../src/renewal-dedup.js';
import { seededRandom } from '@tally/testkit';
import { describe, expect, it } from 'vitest';

/**
 * metrics-utility's DedupRenewal, re-written plainly from its description (deliberately naive and
 * quadratic, like the pandas original): within each iteration the lookups run one after another
 * (host name, ansible_host, serial, machine id), each over the group as the previous one left it and
 * over the whole table; a record already in some group starts none, but later groups still take it.
 */
/** Times as microseconds since 1970 (NaN: missing), and back: the Date (ms) and the µs past it. */
const usOf = (d: Date | null, micros = 0) => (d ? d.getTime() * 1000 + micros : Number.NaN);
const fromUs = (us: number) => (Number.isNaN(us) ? { date: null, micros: 0 } : { date: new Date(Math.floor(us / 1000)), micros: us - Math.floor(us / 1000) * 1000 });
const recordUs = (r: HostMetricRecord) => ({
  first: usOf(r.firstAutomation, r.micros?.firstAutomation),
  last: usOf(r.lastAutomation, r.micros?.lastAutomation),
  deleted: usOf(r.lastDeleted, r.micros?.lastDeleted),
});
const nodeUs = (n: RenewalNode) => ({ first: usOf(n.firstAutomation, n.micros.firstAutomation), last: usOf(n.lastAutomation, n.micros.lastAutomation), deleted: usOf(n.lastDeleted, n.micros.lastDeleted) });
/** A node's time fields from µs times, with the reference's `.dt.days` (0 when either is missing or negative). */
function timeFields(first: number, last: number, deleted: number) {
  const [f, l, d] = [fromUs(first), fromUs(last), fromUs(deleted)];
  const days = Number.isNaN(first) || Number.isNaN(last) ? 0 : Math.max(0, Math.floor((last - first) / 86_400_000_000));
  return { firstAutomation: f.date, lastAutomation: l.date, daysAutomated: days, lastDeleted: d.date, micros: { firstAutomation: f.micros, lastAutomation: l.micros, lastDeleted: d.micros } };
}
const present = (us: number[]) => us.filter((t) => !Number.isNaN(t));

function referenceNodes(records: readonly HostMetricRecord[], iterations: number): RenewalNode[] {
  const rows = records.map(cleanIds);
  const keys = ['hostname', 'ansibleHostVariable', 'ansibleProductSerial', 'ansibleMachineId'] as const;
  const processed = new Set<number>();
  const out: RenewalNode[] = [];
  rows.forEach((row, i) => {
    if (processed.has(i)) return;
    let dupes = rows.map((_, j) => j).filter((j) => rows[j]!.hostname === row.hostname);
    for (let it = 0; it < iterations; it++) {
      for (const key of keys) {
        const values = dupes.map((j) => rows[j]![key]);
        const next = rows.map((_, j) => j).filter((j) => rows[j]![key] !== null && values.includes(rows[j]![key]));
        dupes = [...new Set([...dupes, ...next])];
      }
    }
    for (const j of dupes) processed.add(j);
    out.push(naiveFold(dupes.map((j) => rows[j]!)));
  });
  return out;
}

/** The reference's null cleanup: '' for ansible_host, '' and 'NA' for serial and machine id. */
function cleanIds(r: HostMetricRecord): HostMetricRecord {
  const clean = (v: string | null, na: boolean) => (v === '' || (na && v === 'NA') ? null : v);
  return {
    ...r,
    ansibleHostVariable: clean(r.ansibleHostVariable, false),
    ansibleProductSerial: clean(r.ansibleProductSerial, true),
    ansibleMachineId: clean(r.ansibleMachineId, true),
  };
}

/**
 * DedupRenewalExperimental's serial step, translated literally (scans instead of indexes): expand each
 * host-name node into its records' serial keys, merge groups sharing a key (pass 1), then groups not
 * merged yet sharing a single value (pass 2), and emit each node, merged or not, in node order.
 */
function experimentalNodes(records: readonly HostMetricRecord[], nodes: readonly RenewalNode[]): RenewalNode[] {
  const parse = (v: string | null) => (v === null || v === '' || v === 'NA' ? [] : v.split(',').map((x) => x.trim()).filter((x) => x && x !== 'NA'));
  const expanded: { group: string; key: string | null; singles: string[] }[] = [];
  for (const node of nodes) {
    const hostnames = node.hostnames.split(',').map((h) => h.trim()).filter(Boolean);
    for (const r of records.filter((x) => hostnames.includes(x.hostname))) {
      const ps = parse(r.ansibleProductSerial);
      const mid = parse(r.ansibleMachineId);
      const combos: { key: string | null; singles: string[] }[] = [];
      if (ps.length && mid.length) for (const p of ps) for (const m of mid) combos.push({ key: `${p}/${m}`, singles: [p, m] });
      for (const p of ps) combos.push({ key: `ps:${p}`, singles: [p] });
      for (const m of mid) combos.push({ key: `mid:${m}`, singles: [m] });
      if (!combos.length) combos.push({ key: null, singles: [] });
      for (const c of combos) expanded.push({ group: node.hostname, ...c });
    }
  }
  const unique = (xs: string[]) => [...new Set(xs)];
  const serialGroups = new Map<string, { canonical: string; merge: string[] }>();
  const processed = new Set<string>();
  for (const key of unique(expanded.map((e) => e.key).filter((k): k is string => k !== null))) {
    const groups = unique(expanded.filter((e) => e.key === key).map((e) => e.group));
    if (groups.length > 1) {
      serialGroups.set(key, { canonical: groups[0]!, merge: groups });
      for (const g of groups) processed.add(g);
    }
  }
  for (const row of expanded) {
    if (processed.has(row.group)) continue;
    for (const serial of row.singles) {
      const groups = unique(expanded.filter((e) => e.singles.includes(serial)).map((e) => e.group));
      if (groups.length > 1 && !serialGroups.has(`individual:${serial}`)) {
        serialGroups.set(`individual:${serial}`, { canonical: groups[0]!, merge: groups });
        for (const g of groups) processed.add(g);
      }
    }
  }
  const canonicals = new Set([...serialGroups.values()].map((g) => g.canonical));
  const out: RenewalNode[] = [];
  for (const node of nodes) {
    if (!processed.has(node.hostname)) out.push(node);
    else if (canonicals.has(node.hostname)) {
      const info = [...serialGroups.values()].find((g) => g.canonical === node.hostname)!;
      out.push(mergedNode(nodes.filter((n) => info.merge.includes(n.hostname))));
    }
  }
  return out;
}

function mergedNode(ns: RenewalNode[]): RenewalNode {
  const lastUs = (n: RenewalNode) => (Number.isNaN(nodeUs(n).last) ? -Infinity : nodeUs(n).last);
  const latest = [...ns].sort((a, b) => lastUs(b) - lastUs(a))[0]!;
  const sum = (f: (n: RenewalNode) => number) => ns.reduce((s, n) => s + f(n), 0);
  const times = (f: (t: ReturnType<typeof nodeUs>) => number) => present(ns.map((n) => f(nodeUs(n))));
  const concat = (f: (n: RenewalNode) => string) => ns.flatMap((n) => f(n).split(', ').filter(Boolean)).join(', ');
  const sorted = (f: (n: RenewalNode) => string) =>
    [...new Set(ns.flatMap((n) => f(n).split(', ').map((x) => x.trim())).filter((x) => x && x !== 'None'))].sort().join(', ');
  const first = times((t) => t.first);
  const last = times((t) => t.last);
  const deletes = times((t) => t.deleted);
  const extreme = (us: number[], pick: (...xs: number[]) => number) => (us.length ? pick(...us) : Number.NaN);
  return {
    hostname: latest.hostname,
    ...timeFields(extreme(first, Math.min), extreme(last, Math.max), extreme(deletes, Math.max)),
    automatedCounter: sum((n) => n.automatedCounter),
    deletedCounter: sum((n) => n.deletedCounter),
    recordCount: sum((n) => n.recordCount),
    activeRecordCount: sum((n) => n.activeRecordCount),
    deletedRecordCount: sum((n) => n.deletedRecordCount),
    hostnames: concat((n) => n.hostnames),
    ansibleHosts: concat((n) => n.ansibleHosts),
    serials: sorted((n) => n.serials),
    machineIds: sorted((n) => n.machineIds),
    deleted: ns.every((n) => n.deleted),
  };
}

/** The record fields of one group, computed plainly. */
function naiveFold(rs: HostMetricRecord[]): RenewalNode {
  const lastUs = (r: HostMetricRecord) => (Number.isNaN(recordUs(r).last) ? -Infinity : recordUs(r).last);
  const sorted = [...rs].sort((a, b) => Number(a.deleted) - Number(b.deleted) || lastUs(b) - lastUs(a));
  // Python's built-in min/max: a first record without the date gives none (NaT compares false).
  const builtin = (f: (t: ReturnType<typeof recordUs>) => number, pick: (...xs: number[]) => number) => {
    const us = rs.map((r) => f(recordUs(r)));
    return Number.isNaN(us[0]) ? Number.NaN : pick(...present(us));
  };
  const set = (vs: (string | null)[]) => [...new Set(vs.filter((v) => v !== null))].sort().join(', ');
  const unique = (f: (r: HostMetricRecord) => boolean) => new Set(rs.filter(f).map((r) => r.hostname)).size;
  return {
    hostname: sorted[0]!.hostname,
    ...timeFields(builtin((t) => t.first, Math.min), builtin((t) => t.last, Math.max), builtin((t) => t.deleted, Math.max)),
    automatedCounter: rs.reduce((s, r) => s + r.automatedCounter, 0),
    deletedCounter: rs.reduce((s, r) => s + r.deletedCounter, 0),
    recordCount: unique(() => true),
    activeRecordCount: unique((r) => !r.deleted),
    deletedRecordCount: unique((r) => r.deleted),
    hostnames: set(rs.map((r) => r.hostname)),
    ansibleHosts: set(rs.map((r) => r.ansibleHostVariable)),
    serials: set(rs.map((r) => r.ansibleProductSerial)),
    machineIds: set(rs.map((r) => r.ansibleMachineId)),
    deleted: rs.every((r) => r.deleted),
  };
}

const day = (d: number) => new Date(Date.UTC(2024, 0, 1) + d * 86_400_000);

/**
 * An inventory with `hosts` host names, each with one to three `main_host` rows (or none), whose
 * identifiers come from pools of `pool` values — small pools share densely, large ones sparsely —
 * and include 'NA' and blanks; some hosts are deleted; dates repeat so that ties occur.
 */
function inventory(seed: number): { records: HostMetricRecord[]; iterations: number } {
  const rnd = seededRandom(seed);
  const hosts = 3 + rnd.int(0, 39);
  const pool = 1 + rnd.int(0, hosts * 2 - 1);
  const ident = (prefix: string, nas: readonly (string | null)[]) => (rnd.next() < 0.25 ? rnd.pick(nas) : `${prefix}${rnd.int(0, pool - 1)}`);
  const records: HostMetricRecord[] = [];
  let hostId = 1;
  for (let h = 0; h < hosts; h++) {
    const hostname = rnd.pick(['host', 'h-', 'web', 'host1']) + String(rnd.int(0, hosts * 3 - 1));
    if (records.some((r) => r.hostname === hostname)) continue;
    const deleted = rnd.next() < 0.2;
    const first = rnd.int(0, 29);
    // Times a few µs or ms off whole days: spans a microsecond short of or past a whole day, and
    // times that differ below the millisecond (what a Date would truncate).
    const at = (d: number) => fromUs(usOf(day(d)) + rnd.pick([0, 0, 1, -1, 999, -999, 1000, 500, -1500]));
    const [f, l, del] = [at(first), at(first + rnd.int(0, 4)), deleted || rnd.next() < 0.2 ? at(rnd.int(0, 39)) : null];
    const metric = {
      hostname,
      firstAutomation: f.date,
      lastAutomation: l.date,
      automatedCounter: 1 + rnd.int(0, 8),
      deletedCounter: deleted ? 1 + rnd.int(0, 1) : rnd.int(0, 1),
      lastDeleted: del?.date ?? null,
      deleted,
      micros: { firstAutomation: f.micros, lastAutomation: l.micros, lastDeleted: del?.micros ?? 0 },
    };
    const inventoryRows = rnd.int(0, 3); // 0: no main_host row (host id 0)
    for (let k = 0; k < Math.max(1, inventoryRows); k++) {
      const bare = inventoryRows === 0;
      records.push({
        ...metric,
        hostId: bare ? 0 : hostId++,
        ansibleHostVariable: bare ? null : ident('10.0.0.', [null, '']),
        ansibleProductSerial: bare ? null : ident('S', [null, '', 'NA']),
        ansibleMachineId: bare ? null : ident('M', [null, '', 'NA']),
      });
    }
  }
  return { records: inReferenceOrder(records), iterations: rnd.int(0, 4) };
}

const rec = (hostname: string, hostId: number, ids: Partial<HostMetricRecord> = {}): HostMetricRecord => ({
  hostname,
  hostId,
  firstAutomation: day(0),
  lastAutomation: day(hostId),
  automatedCounter: 1,
  deletedCounter: 0,
  lastDeleted: null,
  deleted: false,
  ansibleProductSerial: null,
  ansibleMachineId: null,
  ansibleHostVariable: null,
  ...ids,
});
const names = (nodes: RenewalNode[]) => nodes.map((n) => n.hostnames);

describe('renewal deduplicator (the reference rule)', () => {
  it('equals a plain re-implementation of metrics-utility on 400 random inventories, sparse to dense', () => {
    let shared = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const { records, iterations } = inventory(seed);
      const expected = referenceNodes(records, iterations);
      const actual = renewalNodes(records, { iterations });
      expect({ seed, nodes: actual }).toEqual({ seed, nodes: expected });
      shared += expected.filter((n) => n.hostnames.includes(',')).length;
    }
    expect(shared).toBeGreaterThan(400); // the inventories did share identifiers
  });

  it('renewal-hostname equals a plain re-implementation (ansible_host, else host name) on the same inventories', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const { records } = inventory(seed);
      const key = (r: HostMetricRecord) => (r.ansibleHostVariable === null || r.ansibleHostVariable === '' ? r.hostname : r.ansibleHostVariable);
      const keys = [...new Set(records.map(key))];
      const expected = keys.map((k) => naiveFold(records.filter((r) => key(r) === k).map((r) => cleanIds(r))));
      expect({ seed, nodes: renewalNodes(records, { deduplicator: 'renewal-hostname' }) }).toEqual({ seed, nodes: expected });
    }
  });

  it('renewal-experimental equals a literal re-implementation of the reference on the same inventories', () => {
    let merged = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const { records } = inventory(seed);
      const byHostname = renewalNodes(records, { deduplicator: 'renewal-hostname' });
      const nodes = renewalNodes(records, { deduplicator: 'renewal-experimental' });
      expect({ seed, nodes }).toEqual({ seed, nodes: experimentalNodes(records, byHostname) });
      merged += byHostname.length - nodes.length;
    }
    expect(merged).toBeGreaterThan(100); // serials did merge host-name groups
  });

  it('follows hostname → ansible_host → serial → machine id within one iteration', () => {
    const chain = [
      rec('a', 1, { ansibleHostVariable: 'X' }),
      rec('b', 2, { ansibleHostVariable: 'X', ansibleProductSerial: 'S' }),
      rec('c', 3, { ansibleProductSerial: 'S', ansibleMachineId: 'M' }),
      rec('d', 4, { ansibleMachineId: 'M' }),
    ];
    expect(names(renewalNodes(chain, { iterations: 1 }))).toEqual(['a, b, c, d']);
    // Tally's closure follows one hop per iteration
    expect(names(renewalNodes(chain, { iterations: 1, deduplicator: 'renewal-closure' }))).toEqual(['a, b', 'c, d']);
  });

  it('lets a later group take the records of an earlier one when a chain is longer than the budget', () => {
    // linked machine id → serial → ansible_host: against the lookup order, one hop per iteration from a
    const chain = [
      rec('a', 1, { ansibleMachineId: 'M', automatedCounter: 5 }),
      rec('b', 2, { ansibleMachineId: 'M', ansibleProductSerial: 'S' }),
      rec('c', 3, { ansibleProductSerial: 'S', ansibleHostVariable: 'H' }),
      rec('d', 4, { ansibleHostVariable: 'H' }),
    ];
    const nodes = renewalNodes(chain, { iterations: 1 });
    expect(names(nodes)).toEqual(['a, b', 'a, b, c, d']);
    expect(nodes.map((n) => n.automatedCounter)).toEqual([6, 8]); // a's five automations count in both
    expect(nodes.map((n) => n.hostname)).toEqual(['b', 'd']); // the latest-automated record names each
    const closure = renewalNodes(chain, { iterations: 1, deduplicator: 'renewal-closure' });
    expect(names(closure)).toEqual(['a, b', 'c, d']);
    expect(closure.reduce((s, n) => s + n.automatedCounter, 0)).toBe(8); // each automation once
    expect(names(renewalNodes(chain, { iterations: 3 }))).toEqual(['a, b, c, d']);
  });

  it('folds dates as Python built-in min/max over pandas values: a first record without a deletion date gives none', () => {
    const group = [
      rec('a', 1, { ansibleHostVariable: 'X' }),
      rec('b', 2, { ansibleHostVariable: 'X', deleted: true, lastDeleted: day(7) }),
    ];
    expect(renewalNodes(group).map((n) => n.lastDeleted)).toEqual([null]);
    // the first record found has one: the latest date present
    const reversed = [rec('a', 1, { ansibleHostVariable: 'X', deleted: true, lastDeleted: day(3) }), rec('b', 2, { ansibleHostVariable: 'X' }), rec('c', 3, { ansibleHostVariable: 'X', deleted: true, lastDeleted: day(9) })];
    expect(renewalNodes(reversed).map((n) => n.lastDeleted)).toEqual([day(9)]);
    // Tally's sound closure takes the latest date present
    expect(renewalNodes(group, { deduplicator: 'renewal-closure' }).map((n) => n.lastDeleted)).toEqual([day(7)]);
  });

  it("starts groups in CONCAT(hostname, '___', id) order, where host10___3 precedes host1___5", () => {
    const rows = [
      rec('host1', 5, { ansibleMachineId: 'M' }),
      rec('host10', 3, { ansibleMachineId: 'M', ansibleProductSerial: 'P' }),
      rec('host2', 7, { ansibleProductSerial: 'P' }),
    ];
    const ordered = inReferenceOrder(rows);
    expect(ordered.map((r) => r.hostname)).toEqual(['host10', 'host1', 'host2']);
    expect(names(renewalNodes(ordered, { iterations: 1 }))).toEqual(['host1, host10, host2']);
    // by host name first, host1 would start a group of its own and host2 a second one
    expect(names(renewalNodes(rows, { iterations: 1 }))).toEqual(['host1, host10', 'host1, host10, host2']);
  });

  it('counts several main_host rows of one host name once in the record counts but sums their automations', () => {
    const rows = [rec('a', 1, { ansibleProductSerial: 'S1' }), rec('a', 2, { ansibleProductSerial: 'S2' }), rec('b', 3, { ansibleProductSerial: 'S2', deleted: true })];
    const [n] = renewalNodes(rows, { iterations: 1 });
    expect(n).toMatchObject({ hostname: 'a', recordCount: 2, activeRecordCount: 1, deletedRecordCount: 1, automatedCounter: 3, serials: 'S1, S2', deleted: false });
  });

  it("keeps a record whose host name is '' (only identifiers are cleaned)", () => {
    const rows = [rec('', 1, { ansibleProductSerial: 'S' }), rec('x', 2, { ansibleProductSerial: 'S' }), rec('y', 3)];
    expect(names(renewalNodes(rows, { iterations: 1 }))).toEqual([', x', 'y']);
    expect(renewalNodes(rows, { iterations: 1 })).toEqual(referenceNodes(rows, 1));
  });

  it('handles many records sharing identifiers in long chains', () => {
    // 3,000 records, each linked to the next by alternating identifiers, and every tenth sharing one serial
    const rows = Array.from({ length: 3_000 }, (_, i) =>
      rec(`h${String(i).padStart(5, '0')}`, i + 1, {
        ansibleHostVariable: `a${i >> 1}`,
        ansibleMachineId: `m${(i + 1) >> 1}`,
        ansibleProductSerial: i % 10 === 0 ? 'hub' : null,
      }),
    );
    const nodes = renewalNodes(rows, { iterations: 3 });
    expect(nodes).toEqual(referenceNodes(rows, 3));
  });
});
