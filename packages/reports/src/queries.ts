import { type ExcelDate, excelDate } from './excel-date.js';
import { hostTotalsSelect, indirectCollectionsSql, orgHostsSelect, orgRunsSelect, type UsageTables } from '@tally/dataframes';
import type { ReportExtras } from './report-inputs.js';
import { dataRowsXml, type DataRowsXml, dataRowsXmlSql, type DataStyleIds, type SqlColumn } from './row-xml-sql.js';

/** The little of a database the sheets' queries need (a @tally/dataframes TallyDuckDb has it). */
export interface ReportDb {
  all(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Rows as arrays of values, in the columns' order. */
  rows(sql: string, params?: unknown[]): Promise<unknown[][]>;
}

/**
 * What every CCSP/CCSPv2 sheet reads: @tally/dataframes' usage tables (`usageTables`, `loadUsage`),
 * on any database with `ReportDb`'s queries, plus the INDIRECT rows and the newest sheets' inputs.
 */
export interface ReportTables extends Omit<UsageTables, 'db' | 'method' | 'beside'> {
  db: ReportDb;
  /** Grouped INDIRECT-only rows (a table), when there are any. */
  indirect?: string | undefined;
  /** Inputs of the newest reference's sheets (report-inputs.ts); absent for tables built from dataframes alone. */
  extras?: ReportExtras | undefined;
  /** Called once the workbook's last query has settled, to close the database while the file is finished. */
  release?: (() => Promise<void>) | undefined;
  /**
   * A second connection to the same database (`UsageTables.beside`), where the Managed nodes
   * rows' statement runs beside the other sheets' queries.
   */
  beside?: ReportDb | undefined;
}

/**
 * The CCSPv2 sheets that read the usage tables only through `ReportQueries`' per-host and
 * per-organization aggregations, or not at all (the content sheets read `content`, merged from
 * content rollups beside the ready rows), so that ready sheet rows (`UsageTables.ready`) serve them.
 */
const READY_SERVED_SHEETS: readonly string[] = [
  'ccsp_summary',
  'managed_nodes',
  'usage_by_organizations',
  'usage_by_collections',
  'usage_by_roles',
  'usage_by_modules',
  'indirectly_managed_nodes',
  'inventory_scope',
  'data_collection_status',
];

/** Can a CCSPv2 workbook with these sheets be written from ready sheet rows (no dedup columns)? */
export function servedByReadySheets(sheets: readonly string[], deduplicator: string | undefined): boolean {
  return deduplicator !== 'ccsp-experimental' && sheets.every((s) => READY_SERVED_SHEETS.includes(s));
}

/** A cell's value; an `ExcelDate` is a datetime with its microseconds, as openpyxl writes it. */
export type Value = string | number | Date | ExcelDate | null;

/** A statement whose text is known only later (see `ReportQueries.fetch`). */
interface Later {
  key: string;
  later: () => Promise<string>;
  /** Run on `ReportTables.beside` (when there is one), in its own order. */
  beside?: boolean;
}
export type DataRow = Value[];

/** The Managed nodes sheet's columns over `hostTotalsSelect`'s rows: host name, organizations, job runs, task runs, first, last automation. */
const MANAGED_NODES_COLUMNS: readonly SqlColumn[] = [
  { expr: 'h', kind: 'text' },
  { expr: 'orgs', kind: 'integer' },
  { expr: 'n', kind: 'integer' },
  { expr: 'tr', kind: 'integer' },
  { expr: 'f', kind: 'timestamp' },
  { expr: 'l', kind: 'timestamp' },
];

/**
 * Timestamps travel as epoch microseconds (a BIGINT: the binding gives a bigint, no Date) and
 * become the serial openpyxl writes, microseconds kept (a Date would cut them to milliseconds).
 */
const ts = (expr: string) => `epoch_us(${expr})`;
function toDate(v: unknown): ExcelDate | null {
  if (v === null || v === undefined) return null;
  return excelDate(Number(v));
}
function toValue(v: unknown): Value {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' || typeof v === 'string' || v instanceof Date) return v;
  return String(v);
}

/**
 * The sheets' queries, over the usage tables (see usage-tables.ts). They run one after another
 * in the order asked: `prefetch` asks for those a workbook needs up front, so DuckDB computes
 * the next sheet's rows while the main thread writes the current sheet.
 */
export class ReportQueries {
  private readonly hosts: string;
  private readonly jobsTable: string;
  /** Queries prefetched and not yet taken by their sheet; a sheet's own ask takes its entry out. */
  private readonly prefetched = new Map<string, Promise<unknown[][]>>();
  private prefetching = false;
  /** Settles when the last query asked for on each connection has (one runs one statement at a time). */
  private last: { main: Promise<unknown>; beside: Promise<unknown> } = { main: Promise.resolve(), beside: Promise.resolve() };
  /** Grouped INDIRECT-only rows (see @tally/dataframes groupIndirectInto), when the period has any. */
  private readonly indirect: string | undefined;
  constructor(private readonly t: ReportTables) {
    this.hosts = t.hosts;
    this.jobsTable = t.jobs;
    this.indirect = t.indirect;
  }

  /**
   * The usage-table hosts plus the INDIRECT rows per (organization, template, host), for the
   * sheets counting both (Jobs, per-organization sheets); the DIRECT hosts alone without them.
   */
  private get allHosts(): string {
    if (!this.indirect) return this.hosts;
    return `(SELECT o, t, h, n, tr, f, l, jc_first, jc_last FROM ${this.hosts} UNION ALL
      SELECT organization_name, job_template_name, host_name, count(*), sum(task_runs), min(first_automation), max(last_automation),
        min(job_created), max(job_created) FROM ${this.indirect} GROUP BY ALL)`;
  }

  /** One row per DIRECT host (`hostTotalsSelect`): h, orgs, n, tr, f, l. */
  private get hostTotals(): string {
    return this.t.ready ? this.t.ready.hosts : `(${hostTotalsSelect(this.hosts)})`;
  }

  /** One row per organization of the DIRECT hosts (`orgHostsSelect`): o, hosts, n, tr. */
  private get orgHosts(): string {
    return this.t.ready ? `(SELECT o, hosts, n, tr FROM ${this.t.ready.orgs} WHERE hosts IS NOT NULL)` : `(${orgHostsSelect(this.hosts)})`;
  }

  /** One row per organization of the DIRECT and INDIRECT jobs (`orgRunsSelect`): o, runs. */
  private get orgRuns(): string {
    // Ready sheets are built from periods without INDIRECT rows.
    return this.t.ready && !this.indirect ? `(SELECT o, runs FROM ${this.t.ready.orgs} WHERE runs IS NOT NULL)` : `(${orgRunsSelect(this.allJobs)})`;
  }

  /** The jobs of the DIRECT and INDIRECT rows (see allHosts). */
  private get allJobs(): string {
    if (!this.indirect) return this.jobsTable;
    return `(SELECT o, t, u, j FROM ${this.jobsTable} UNION SELECT organization_name, job_template_name, install_uuid, job_remote_id FROM ${this.indirect})`;
  }

  /**
   * `before`: a step that must run first on the connection, in the queue's order (see
   * `UsageTables.contentReady`). A statement known only later (`later`) keeps its place in the
   * queue, under its `key`, and the statements after it wait for it.
   */
  private fetch(sql: string | Later, before?: () => Promise<void>): Promise<unknown[][]> {
    const key = typeof sql === 'string' ? sql : sql.key;
    const ahead = this.prefetched.get(key);
    if (ahead) {
      // Taken once: the rows are not kept for the rest of the workbook.
      if (!this.prefetching) this.prefetched.delete(key);
      return ahead;
    }
    const lane = typeof sql !== 'string' && sql.beside && this.t.beside ? 'beside' : 'main';
    const rows = this.last[lane].then(async () => {
      // Without `before`, the statement starts in this turn: an `await` would let the sheet that
      // took the previous rows write them first (~20 ms for Managed nodes) while DuckDB waits.
      if (before) await before();
      return (lane === 'beside' ? this.t.beside! : this.t.db).rows(typeof sql === 'string' ? sql : await sql.later());
    });
    this.last[lane] = rows.catch(() => {});
    if (this.prefetching) this.prefetched.set(key, rows);
    return rows;
  }

  private async rows(sql: string, dateCols: readonly number[] = [], before?: () => Promise<void>): Promise<DataRow[]> {
    const forPrefetch = this.prefetching;
    const rows = await this.fetch(sql, before);
    // A prefetch only starts the query: the sheet taking its rows converts them, once.
    if (forPrefetch) return [];
    // Converted in place: a 100k-row result is not held twice.
    for (const r of rows) for (let i = 0; i < r.length; i++) r[i] = dateCols.includes(i) ? toDate(r[i]) : toValue(r[i]);
    return rows as DataRow[];
  }

  /**
   * Start the queries `ask` asks for (`q.prefetch(() => [q.jobs(), q.managedNodes()])`), in
   * that order; the sheet asking for one again gets its result. A failure surfaces there, not here.
   */
  prefetch(ask: () => Promise<unknown>[]): void {
    this.prefetching = true;
    try {
      for (const q of ask()) q.catch(() => {});
    } finally {
      this.prefetching = false;
    }
  }

  /** Wait until no query runs any more (before the database closes), whatever their outcome. */
  async settled(): Promise<void> {
    await Promise.all([this.last.main, this.last.beside]);
  }

  /**
   * Once no query runs any more, hand the database back (`ReportTables.release`): its close blocks
   * the main thread (~10–25 ms) while the sheets' deflate runs on the thread pool. Ask no query after.
   */
  async release(): Promise<void> {
    await this.settled();
    await this.t.release?.();
  }

  /** Does the period hold no job host summary at all (whatever the organization filter)? */
  isEmpty(): boolean {
    return this.t.empty;
  }

  /** Distinct managed nodes over the whole (filtered) roll-up. */
  async totalQuantity(): Promise<number> {
    const [r] = await this.fetch(`SELECT count(h) AS n FROM ${this.hostTotals}`);
    return Number(r?.[0] ?? 0);
  }

  /** [organization, distinct managed nodes] sorted by organization (NULL last). */
  orgQuantities(): Promise<DataRow[]> {
    return this.rows(`SELECT o, hosts FROM ${this.orgHosts} ORDER BY 1 NULLS LAST`);
  }

  /** Sorted organization names present in the roll-up (with `indirect`, also those of INDIRECT rows only). */
  async organizations(indirect = false): Promise<string[]> {
    const from = indirect && this.indirect ? `(SELECT DISTINCT o FROM ${this.allHosts})` : this.orgHosts;
    const rows = await this.rows(`SELECT o FROM ${from} WHERE o IS NOT NULL ORDER BY 1`);
    return rows.map((r) => String(r[0]));
  }

  /** Host name, organizations, job runs, task runs, first, last automation. */
  managedNodes(): Promise<DataRow[]> {
    const select = MANAGED_NODES_COLUMNS.map((c) => (c.kind === 'timestamp' ? ts(c.expr) : c.expr));
    const dates = MANAGED_NODES_COLUMNS.flatMap((c, i) => (c.kind === 'timestamp' ? [i] : []));
    return this.rows(`SELECT ${select.join(', ')} FROM ${this.hostTotals} ORDER BY h NULLS LAST`, dates);
  }

  /**
   * `managedNodes` as the XML of data rows from row `first` on, cells styled `styles`
   * (row-xml-sql.ts); undefined when a value's XML must come from JS (then ask `managedNodes`).
   * The statement takes its place in the queue when asked and runs once `styles` is known (the
   * sheet knows its styles' numbers once the rows above are written); every ask passes the same `styles`.
   */
  async managedNodesXml(first: number, styles: Promise<DataStyleIds>): Promise<DataRowsXml | undefined> {
    const forPrefetch = this.prefetching;
    const later = async () => dataRowsXmlSql(this.hostTotals, MANAGED_NODES_COLUMNS, 'h NULLS LAST', first, await styles);
    // The longest statement of a workbook: the other sheets' queries need not wait behind it.
    const result = await this.fetch({ key: `managed nodes XML from row ${first}`, later, beside: true });
    return forPrefetch ? undefined : dataRowsXml(result, first, await styles);
  }

  /**
   * Every organization's managed nodes in ONE query: organization → rows of host, job runs,
   * task runs, first, last automation (host order). The last column also gives the CCSPv2
   * managed-nodes sheet its per-organization columns (DIRECT rows), and with `indirect` the
   * per-organization sheets (DIRECT and INDIRECT rows).
   */
  async managedNodesByOrg(indirect = false): Promise<Map<string, DataRow[]>> {
    const rows = await this.rows(
      `SELECT o, h, sum(n), sum(tr), ${ts('min(f)')}, ${ts('max(l)')}
       FROM ${indirect ? this.allHosts : this.hosts} WHERE o IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2 NULLS LAST`,
      [4, 5],
    );
    const out = new Map<string, DataRow[]>();
    for (const [org, ...rest] of rows) {
      const key = String(org);
      let list = out.get(key);
      if (!list) {
        list = [];
        out.set(key, list);
      }
      list.push(rest);
    }
    return out;
  }

  /** Jobs sheet (DIRECT and INDIRECT rows): template, organization, job runs, unique nodes, non-unique nodes, task runs, first/last run. */
  jobs(): Promise<DataRow[]> {
    return this.rows(
      `WITH j AS (SELECT o, t, count(DISTINCT (j, u)) AS runs FROM ${this.allJobs} GROUP BY ALL),
       h AS (SELECT o, t, count(DISTINCT h) AS hosts, sum(n) AS n, sum(tr) AS tr, min(jc_first) AS jf, max(jc_last) AS jl FROM ${this.allHosts} GROUP BY ALL)
       SELECT h.t, h.o, COALESCE(j.runs, 0), h.hosts, h.n, h.tr, ${ts('h.jf')}, ${ts('h.jl')}
       FROM h LEFT JOIN j ON j.o IS NOT DISTINCT FROM h.o AND j.t IS NOT DISTINCT FROM h.t
       ORDER BY h.o NULLS LAST, h.t NULLS LAST`,
      [6, 7],
    );
  }

  /**
   * Usage by organizations: organization, job runs (DIRECT and INDIRECT rows), unique and
   * non-unique nodes (DIRECT rows), with `indirectColumns` unique and non-unique INDIRECT nodes,
   * then task runs (all rows).
   */
  usageByOrganizations(indirectColumns = false): Promise<DataRow[]> {
    const ind = this.indirect
      ? `SELECT organization_name AS o, count(DISTINCT host_name) AS hosts, count(host_name) AS n, sum(task_runs) AS tr FROM ${this.indirect} GROUP BY ALL`
      : 'SELECT NULL::VARCHAR AS o, 0 AS hosts, 0 AS n, 0 AS tr WHERE false';
    return this.rows(
      `WITH j AS (SELECT o, runs FROM ${this.orgRuns}),
       h AS (SELECT o, hosts, n, tr FROM ${this.orgHosts}),
       i AS (${ind}),
       orgs AS (SELECT o FROM h UNION SELECT o FROM i)
       SELECT orgs.o, COALESCE(j.runs, 0), COALESCE(h.hosts, 0), COALESCE(h.n, 0),
         ${indirectColumns ? 'COALESCE(i.hosts, 0), COALESCE(i.n, 0), ' : ''}COALESCE(h.tr, 0) + COALESCE(i.tr, 0)
       FROM orgs LEFT JOIN h ON h.o IS NOT DISTINCT FROM orgs.o LEFT JOIN i ON i.o IS NOT DISTINCT FROM orgs.o
       LEFT JOIN j ON j.o IS NOT DISTINCT FROM orgs.o ORDER BY orgs.o NULLS LAST`,
    );
  }

  /**
   * Usage by collection/role/module: key, unique nodes, non-unique nodes (host+install+job),
   * task runs, duration. Event hosts are first mapped to their ansible_host through the job
   * host summaries (`hostMap`).
   */
  contentUsage(key: 'collection_name' | 'role_name' | 'module_name', indirectCollections = false): Promise<DataRow[]> {
    const indirect = indirectCollections && key === 'collection_name' && this.indirect
      ? `SELECT collection_name AS k, host_name, host_composite_id AS hc, task_runs, duration FROM (${indirectCollectionsSql(this.indirect)})`
      : undefined;
    if (!indirect) {
      if (!this.t.content) return Promise.resolve([]);
      return this.rows(`SELECT k, hosts, nodes, task_runs, duration FROM ${this.t.content} WHERE sheet = '${key}' ORDER BY k NULLS LAST`, [], this.t.contentReady);
    }
    const events = this.t.events && this.t.hostMap
      ? `SELECT host_name, k, host_name || '__' || COALESCE(install_uuid, 'nan') || '__' || COALESCE(job_remote_id::VARCHAR, 'nan') AS hc,
           task_runs, duration FROM (
             SELECT COALESCE(m.host_name, e.host_name) AS host_name, e.${key} AS k, e.install_uuid, e.job_remote_id, e.task_runs, e.duration
             FROM ${this.t.events} e LEFT JOIN ${this.t.hostMap} m ON m.original_host_name = e.host_name
               AND m.install_uuid IS NOT DISTINCT FROM e.install_uuid AND m.job_remote_id IS NOT DISTINCT FROM e.job_remote_id)`
      : undefined;
    // Indirect nodes' collections come with their hosts, composite ids and task runs, no duration.
    const all = [events, indirect && `SELECT host_name, k, hc, task_runs, duration FROM (${indirect})`].filter(Boolean).join(' UNION ALL ');
    return this.rows(
      `WITH e AS (${all})
       SELECT k, count(DISTINCT host_name), count(DISTINCT hc), sum(task_runs), CAST(sum(TRY_CAST(duration AS DECIMAL(38, 6))) AS DOUBLE)
       FROM e GROUP BY k ORDER BY k NULLS LAST`,
    );
  }
}
