import type { Row, RowFold } from './input.js';

/**
 * The main_indirectmanagednodeaudit rollup of the newest metrics-utility
 * (`indirect_managed_nodes_anonymized_rollup.py`): host names grouped per (organization,
 * collection) and per (organization, module) of each audit row's `events`; `base` drops names and
 * organizations and counts the hosts per collection and per module.
 */

export interface IndirectBatch {
  /** `{org}||{collection}` → host names (the org only separates groups; base unites them again). */
  groups: Map<string, { name: string; hosts: Set<string> }>;
  moduleGroups: Map<string, { name: string; hosts: Set<string> }>;
}

/** Python's `\w` is Unicode-aware: letters, digits and `_` of any script. */
const COLLECTION = /^([\p{L}\p{N}_]+)\.([\p{L}\p{N}_]+)\.(([\p{L}\p{N}_]+)(\.|$))+/u;

/** `DataframeContentUsage.extract_collection_name`: `ns.coll` of an FQCN, or null. */
export function extractCollectionName(fqcn: unknown): string | null {
  if (typeof fqcn !== 'string') return null;
  const m = COLLECTION.exec(fqcn);
  return m ? `${m[1]}.${m[2]}` : null;
}

/** `_parse_events`: a JSON array, else no events. */
function parseEvents(text: string | null | undefined): unknown[] {
  if (!text) return [];
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

function add(groups: IndirectBatch['groups'], org: string, name: string, host: string): void {
  const key = `${org}||${name}`;
  const g = groups.get(key) ?? { name, hosts: new Set<string>() };
  groups.set(key, g);
  g.hosts.add(host);
}

/** `prepare`: every row with a host name joins its collections' and modules' groups (or the sentinels). */
export function indirectFold(): RowFold<IndirectBatch> {
  const batch: IndirectBatch = { groups: new Map(), moduleGroups: new Map() };
  return { row: (r) => addAuditRow(batch, r), done: () => batch };
}

function addAuditRow(batch: IndirectBatch, r: Row): void {
  const host = r.host_name;
  if (host === null || host === undefined) return;
  // str() of pandas' NaN.
  const org = r.organization_name ?? 'nan';
  const events = parseEvents(r.events);
  const collections = new Set(events.map(extractCollectionName).filter((c): c is string => c !== null));
  for (const c of collections.size > 0 ? collections : ['_no_collection']) add(batch.groups, org, c, host);
  const modules = new Set(events.filter((e): e is string => extractCollectionName(e) !== null));
  for (const m of modules.size > 0 ? modules : ['_no_module']) add(batch.moduleGroups, org, m, host);
}

/** `merge`: host names united per group. */
export function mergeIndirect(all: IndirectBatch | undefined, add2: IndirectBatch): IndirectBatch {
  if (!all) return add2;
  for (const [from, into] of [[add2.groups, all.groups], [add2.moduleGroups, all.moduleGroups]] as const) {
    for (const [key, g] of from) {
      const prev = into.get(key);
      if (prev) for (const h of g.hosts) prev.hosts.add(h);
      else into.set(key, { name: g.name, hosts: new Set(g.hosts) });
    }
  }
  return all;
}

function hostCounts(groups: IndirectBatch['groups']): [string, number][] {
  const byName = new Map<string, Set<string>>();
  for (const g of groups.values()) {
    const s = byName.get(g.name) ?? new Set<string>();
    byName.set(g.name, s);
    for (const h of g.hosts) s.add(h);
  }
  return [...byName.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([n, s]) => [n, s.size]);
}

export interface IndirectBase {
  indirect_nodes_total: number;
  by_collection: { collection: string; host_count: number }[];
  by_module: { module: string; host_count: number }[];
}

/**
 * `base`, with the newest names (`collection`, `module`: Segment drops properties whose key
 * holds "name"). indirect_nodes_total: the distinct host names (every named host is in a group).
 */
export function baseIndirect(data: IndirectBatch | undefined): IndirectBase {
  if (!data) return { indirect_nodes_total: 0, by_collection: [], by_module: [] };
  const hosts = new Set<string>();
  for (const g of data.groups.values()) for (const h of g.hosts) hosts.add(h);
  return {
    indirect_nodes_total: hosts.size,
    by_collection: hostCounts(data.groups).map(([collection, host_count]) => ({ collection, host_count })),
    by_module: hostCounts(data.moduleGroups).map(([module, host_count]) => ({ module, host_count })),
  };
}
