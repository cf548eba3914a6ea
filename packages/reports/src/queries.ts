/** The little of a database the sheets' queries need (a @tally/dataframes TallyDuckDb has it). */
export interface ReportDb {
  all(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
}

/**
 * What every CCSP/CCSPv2 sheet reads: @tally/dataframes' usage tables (`usageTables`, `loadUsage`):
 * `hosts` per (organization, template, host), `jobs` per distinct job, and with events the grouped
 * `events` table and `hostMap` (original host → ansible_host per job).
 */
export interface ReportTables {
  db: ReportDb;
  hosts: string;
  jobs: string;
  hostMap?: string | undefined;
  events?: string | undefined;
  /** No job host summary in the period (an organization filter may still leave the tables empty otherwise). */
  empty: boolean;
}

export type Value = string | number | Date | null;
export type DataRow = Value[];

/** Timestamps travel as epoch microseconds and become ms-rounded Dates (what xlsx keeps). */
const ts = (expr: string) => `epoch_us(${expr})`;
function toDate(v: unknown): Date | null {
  if (v === null || v === undefined) return null;
  return new Date(Math.round(Number(v) / 1000));
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
  private readonly prefetched = new Map<string, Promise<Record<string, unknown>[]>>();
  private prefetching = false;
  /** Settles when the last query asked for has (one connection runs one statement at a time). */
  private last: Promise<unknown> = Promise.resolve();
  constructor(private readonly t: ReportTables) {
    this.hosts = t.hosts;
    this.jobsTable = t.jobs;
  }

  private fetch(sql: string): Promise<Record<string, unknown>[]> {
    const ahead = this.prefetched.get(sql);
    if (ahead) {
      // Taken once: the rows are not kept for the rest of the workbook.
      if (!this.prefetching) this.prefetched.delete(sql);
      return ahead;
    }
    const rows = this.last.then(() => this.t.db.all(sql));
    this.last = rows.catch(() => {});
    if (this.prefetching) this.prefetched.set(sql, rows);
    return rows;
  }

  private async rows(sql: string, dateCols: readonly number[] = []): Promise<DataRow[]> {
    const forPrefetch = this.prefetching;
    const rows = await this.fetch(sql);
    // A prefetch only starts the query: the sheet taking its rows converts them, once.
    if (forPrefetch) return [];
    return rows.map((r) => Object.values(r).map((v, i) => (dateCols.includes(i) ? toDate(v) : toValue(v))));
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
    await this.last;
  }

  /** Does the period hold no job host summary at all (whatever the organization filter)? */
  isEmpty(): boolean {
    return this.t.empty;
  }

  /** Distinct managed nodes over the whole (filtered) roll-up. */
  async totalQuantity(): Promise<number> {
    const [r] = await this.fetch(`SELECT count(DISTINCT h) AS n FROM ${this.hosts}`);
    return Number(r?.n ?? 0);
  }

  /** [organization, distinct managed nodes] sorted by organization (NULL last). */
  orgQuantities(): Promise<DataRow[]> {
    return this.rows(`SELECT o, count(DISTINCT h) FROM ${this.hosts} GROUP BY 1 ORDER BY 1 NULLS LAST`);
  }

  /** Sorted organization names present in the roll-up. */
  async organizations(): Promise<string[]> {
    const rows = await this.rows(`SELECT DISTINCT o FROM ${this.hosts} WHERE o IS NOT NULL ORDER BY 1`);
    return rows.map((r) => String(r[0]));
  }

  /** Host name, organizations, job runs, task runs, first, last automation. */
  managedNodes(): Promise<DataRow[]> {
    return this.rows(
      `SELECT h, count(DISTINCT o), sum(n), sum(tr), ${ts('min(f)')}, ${ts('max(l)')}
       FROM ${this.hosts} GROUP BY h ORDER BY h NULLS LAST`,
      [4, 5],
    );
  }

  /**
   * Every organization's managed nodes in ONE query: organization → rows of host, job runs,
   * task runs, first, last automation (host order). The last column also gives the CCSPv2
   * managed-nodes sheet its per-organization columns.
   */
  async managedNodesByOrg(): Promise<Map<string, DataRow[]>> {
    const rows = await this.rows(
      `SELECT o, h, sum(n), sum(tr), ${ts('min(f)')}, ${ts('max(l)')}
       FROM ${this.hosts} WHERE o IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2 NULLS LAST`,
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

  /** Jobs sheet: template, organization, job runs, unique nodes, non-unique nodes, task runs, first/last run. */
  jobs(): Promise<DataRow[]> {
    return this.rows(
      `WITH j AS (SELECT o, t, count(DISTINCT (j, u)) AS runs FROM ${this.jobsTable} GROUP BY ALL),
       h AS (SELECT o, t, count(DISTINCT h) AS hosts, sum(n) AS n, sum(tr) AS tr, min(jc_first) AS jf, max(jc_last) AS jl FROM ${this.hosts} GROUP BY ALL)
       SELECT h.t, h.o, COALESCE(j.runs, 0), h.hosts, h.n, h.tr, ${ts('h.jf')}, ${ts('h.jl')}
       FROM h LEFT JOIN j ON j.o IS NOT DISTINCT FROM h.o AND j.t IS NOT DISTINCT FROM h.t
       ORDER BY h.o NULLS LAST, h.t NULLS LAST`,
      [6, 7],
    );
  }

  /** Usage by organizations: organization, job runs, unique nodes, non-unique nodes, task runs. */
  usageByOrganizations(): Promise<DataRow[]> {
    return this.rows(
      `WITH j AS (SELECT o, count(DISTINCT (j, u)) AS runs FROM ${this.jobsTable} GROUP BY ALL),
       h AS (SELECT o, count(DISTINCT h) AS hosts, sum(n) AS n, sum(tr) AS tr FROM ${this.hosts} GROUP BY ALL)
       SELECT h.o, COALESCE(j.runs, 0), h.hosts, h.n, h.tr
       FROM h LEFT JOIN j ON j.o IS NOT DISTINCT FROM h.o ORDER BY h.o NULLS LAST`,
    );
  }

  /**
   * Usage by collection/role/module: key, unique nodes, non-unique nodes (host+install+job),
   * task runs, duration. Event hosts are first mapped to their ansible_host through the job
   * host summaries (`hostMap`).
   */
  contentUsage(key: 'collection_name' | 'role_name' | 'module_name'): Promise<DataRow[]> {
    if (!this.t.events || !this.t.hostMap) return Promise.resolve([]);
    return this.rows(
      `WITH e AS (SELECT COALESCE(m.host_name, e.host_name) AS host_name, e.${key} AS k, e.install_uuid, e.job_remote_id, e.task_runs, e.duration
             FROM ${this.t.events} e LEFT JOIN ${this.t.hostMap} m ON m.original_host_name = e.host_name
               AND m.install_uuid IS NOT DISTINCT FROM e.install_uuid AND m.job_remote_id IS NOT DISTINCT FROM e.job_remote_id)
       SELECT k, count(DISTINCT host_name),
         count(DISTINCT host_name || '__' || COALESCE(install_uuid, 'nan') || '__' || COALESCE(job_remote_id::VARCHAR, 'nan')),
         sum(task_runs), sum(duration)::DOUBLE
       FROM e GROUP BY k ORDER BY k NULLS LAST`,
    );
  }
}
