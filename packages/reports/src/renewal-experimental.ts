import { codePointCompare, extreme, type HostMetricRecord } from './renewal-dedup.js';
import { nodeMicros, nodeTimes, type RenewalNode } from './renewal-nodes.js';

/** One serial key of one original record of a host-name group (the reference's "expanded" rows). */
interface SerialRow {
  group: string;
  /** `ps/mid`, `ps:<ps>` or `mid:<mid>`; null for a record without either. */
  key: string | null;
  /** The serial and machine id values the key is made of. */
  singles: string[];
}

/** Comma-separated serials or machine ids, without blanks and 'NA'. */
const parseSerials = (v: string | null): string[] =>
  v === null || v === '' || v === 'NA' ? [] : v.split(',').map((s) => s.trim()).filter((s) => s !== '' && s !== 'NA');

function serialRows(group: string, r: HostMetricRecord): SerialRow[] {
  const ps = parseSerials(r.ansibleProductSerial);
  const mid = parseSerials(r.ansibleMachineId);
  const out: SerialRow[] = [];
  if (ps.length && mid.length) for (const p of ps) for (const m of mid) out.push({ group, key: `${p}/${m}`, singles: [p, m] });
  for (const p of ps) out.push({ group, key: `ps:${p}`, singles: [p] });
  for (const m of mid) out.push({ group, key: `mid:${m}`, singles: [m] });
  return out.length ? out : [{ group, key: null, singles: [] }];
}

/** Positions of the items by their host name, in order. */
function positionsByName(items: readonly { hostname: string }[]): Map<string, number[]> {
  const byName = new Map<string, number[]>();
  items.forEach((item, i) => {
    const list = byName.get(item.hostname);
    if (list) list.push(i);
    else byName.set(item.hostname, [i]);
  });
  return byName;
}

/** Every record of every node, by node: the records whose host name is in the node's `hostnames`. */
function expand(records: readonly HostMetricRecord[], nodes: readonly RenewalNode[]): SerialRow[] {
  const byName = positionsByName(records);
  const rows: SerialRow[] = [];
  for (const node of nodes) {
    const names = new Set(node.hostnames.split(',').map((h) => h.trim()).filter(Boolean));
    const idx = [...names].flatMap((h) => byName.get(h) ?? []).sort((a, b) => a - b);
    for (const i of idx) rows.push(...serialRows(node.hostname, records[i]!));
  }
  return rows;
}

/** `value → groups holding it`, each list in order of first appearance. */
function groupsBy(rows: readonly SerialRow[], values: (r: SerialRow) => readonly (string | null)[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const row of rows) {
    for (const v of values(row)) {
      if (!v) continue;
      const groups = out.get(v);
      if (!groups) out.set(v, [row.group]);
      else if (!seen.has(`${v}\0${row.group}`)) groups.push(row.group);
      seen.add(`${v}\0${row.group}`);
    }
  }
  return out;
}

interface SerialGroup {
  canonical: string;
  merge: string[];
}

/**
 * Which host-name groups merge (the reference's two passes): any serial key shared by several groups
 * merges them; then, for rows of groups not merged yet, any single serial or machine id shared by
 * several groups does. Groups are named by their representative host name, as in the reference.
 */
function serialGroups(rows: readonly SerialRow[]): { byKey: Map<string, SerialGroup>; merged: Set<string> } {
  const byKey = new Map<string, SerialGroup>();
  const merged = new Set<string>();
  const add = (key: string, groups: string[]) => {
    byKey.set(key, { canonical: groups[0]!, merge: groups });
    for (const g of groups) merged.add(g);
  };
  for (const [key, groups] of groupsBy(rows, (r) => [r.key])) if (groups.length > 1) add(key, groups);
  const bySingle = groupsBy(rows, (r) => r.singles);
  for (const row of rows) {
    if (merged.has(row.group)) continue;
    for (const s of row.singles) {
      const groups = s ? bySingle.get(s)! : [];
      if (groups.length > 1 && !byKey.has(`individual:${s}`)) add(`individual:${s}`, groups);
    }
  }
  return { byKey, merged };
}

const concatLists = (values: string[]) => values.flatMap((v) => v.split(', ').filter(Boolean)).join(', ');
const sortedUnion = (values: string[]) =>
  [...new Set(values.flatMap((v) => v.split(', ').map((s) => s.trim())).filter((s) => s !== '' && s !== 'None'))].sort(codePointCompare).join(', ');

/** The reference's merged record: latest group's name, sums, concatenated name lists, sorted serial lists. */
function mergeNodes(ns: readonly RenewalNode[]): RenewalNode {
  const us = ns.map(nodeMicros);
  let latest = 0;
  us.forEach((t, i) => {
    const best = us[latest]!.last;
    if (!Number.isNaN(t.last) && (Number.isNaN(best) || t.last > best)) latest = i;
  });
  const sum = (f: (n: RenewalNode) => number) => ns.reduce((s, n) => s + f(n), 0);
  const { micros, ...times } = nodeTimes(
    extreme(us.map((t) => t.first), Math.min),
    extreme(us.map((t) => t.last), Math.max),
    extreme(us.map((t) => t.deleted), Math.max),
  );
  return {
    hostname: ns[latest]!.hostname,
    ...times,
    automatedCounter: sum((n) => n.automatedCounter),
    deletedCounter: sum((n) => n.deletedCounter),
    recordCount: sum((n) => n.recordCount),
    activeRecordCount: sum((n) => n.activeRecordCount),
    deletedRecordCount: sum((n) => n.deletedRecordCount),
    hostnames: concatLists(ns.map((n) => n.hostnames)),
    ansibleHosts: concatLists(ns.map((n) => n.ansibleHosts)),
    serials: sortedUnion(ns.map((n) => n.serials)),
    machineIds: sortedUnion(ns.map((n) => n.machineIds)),
    deleted: ns.every((n) => n.deleted),
    micros,
  };
}

/**
 * metrics-utility's `DedupRenewalExperimental` second step (deduplicator `renewal-experimental`):
 * host-name groups (`renewal-hostname`'s nodes) that share a serial or machine id merge. As in the
 * reference, the merge is not transitive: a group merges with the groups of the first key that
 * names it canonical, and a group can be named in several merges.
 */
export function mergeBySerials(records: readonly HostMetricRecord[], nodes: readonly RenewalNode[]): RenewalNode[] {
  const rows = expand(records, nodes);
  const { byKey, merged } = serialGroups(rows);
  const firstMerge = new Map<string, string[]>();
  for (const g of byKey.values()) if (!firstMerge.has(g.canonical)) firstMerge.set(g.canonical, g.merge);
  const byName = positionsByName(nodes);
  const out: RenewalNode[] = [];
  for (const node of nodes) {
    if (!merged.has(node.hostname)) out.push(node);
    else {
      const names = firstMerge.get(node.hostname);
      if (!names) continue;
      const idx = names.flatMap((h) => byName.get(h)!).sort((a, b) => a - b);
      out.push(mergeNodes(idx.map((i) => nodes[i]!)));
    }
  }
  return out;
}
