import type { ReportTables } from './tables.js';

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

/** The job-host-summary table the report reads: the whole roll-up, or only the listed organizations. */
export function jhsSource(t: ReportTables, organizationFilter?: readonly string[]): { sql: string; params: unknown[] } {
  if (!organizationFilter?.length) return { sql: t.jhs, params: [] };
  const marks = organizationFilter.map((_, i) => `$${i + 1}::VARCHAR`).join(', ');
  return { sql: `(SELECT * FROM ${t.jhs} WHERE organization_name IN (${marks}))`, params: [...organizationFilter] };
}

export class ReportQueries {
  private readonly src: string;
  private readonly params: unknown[];
  constructor(
    private readonly t: ReportTables,
    organizationFilter?: readonly string[],
  ) {
    const s = jhsSource(t, organizationFilter);
    this.src = s.sql;
    this.params = s.params;
  }

  private async rows(sql: string, dateCols: readonly number[] = [], extra: unknown[] = []): Promise<DataRow[]> {
    const rows = await this.t.db.all(sql, [...this.params, ...extra]);
    return rows.map((r) => Object.values(r).map((v, i) => (dateCols.includes(i) ? toDate(v) : toValue(v))));
  }

  /** Does the (filtered) roll-up hold any row? */
  async isEmpty(): Promise<boolean> {
    const [r] = await this.t.db.all(`SELECT count(*) AS n FROM ${this.src}`, this.params);
    return Number(r?.n ?? 0) === 0;
  }

  /** Distinct managed nodes over the whole (filtered) roll-up. */
  async totalQuantity(): Promise<number> {
    const [r] = await this.t.db.all(`SELECT count(DISTINCT host_name) AS n FROM ${this.src}`, this.params);
    return Number(r?.n ?? 0);
  }

  /** [organization, distinct managed nodes] sorted by organization (NULL last). */
  orgQuantities(): Promise<DataRow[]> {
    return this.rows(`SELECT organization_name, count(DISTINCT host_name) FROM ${this.src} GROUP BY 1 ORDER BY 1 NULLS LAST`);
  }

  /** Sorted organization names present in the roll-up. */
  async organizations(): Promise<string[]> {
    const rows = await this.rows(`SELECT DISTINCT organization_name FROM ${this.src} WHERE organization_name IS NOT NULL ORDER BY 1`);
    return rows.map((r) => String(r[0]));
  }

  /** Host name, organizations, job runs, task runs, first, last automation. */
  managedNodes(): Promise<DataRow[]> {
    return this.rows(
      `SELECT host_name, count(DISTINCT organization_name), count(*), sum(task_runs), ${ts('min(first_automation)')}, ${ts('max(last_automation)')}
       FROM ${this.src} GROUP BY host_name ORDER BY host_name NULLS LAST`,
      [4, 5],
    );
  }

  /** host → organization → that organization's last automation of the host. */
  async lastAutomationByOrg(): Promise<Map<string | null, Map<string, Date | null>>> {
    const rows = await this.rows(
      `SELECT host_name, organization_name, ${ts('max(last_automation)')} FROM ${this.src} WHERE organization_name IS NOT NULL GROUP BY 1, 2`,
      [2],
    );
    const out = new Map<string | null, Map<string, Date | null>>();
    for (const [host, org, last] of rows) {
      const key = host === null ? null : String(host);
      if (!out.has(key)) out.set(key, new Map());
      out.get(key)!.set(String(org), last as Date | null);
    }
    return out;
  }

  /**
   * Every organization's managed nodes in ONE pass over the roll-up: organization → rows of
   * host, job runs, task runs, first, last automation (as `managedNodesOfOrg`, host order).
   * Also gives `lastAutomationByOrg` (the last column), so the CCSPv2 per-organization sheets
   * and the managed-nodes columns do not scan the roll-up once per organization.
   */
  async managedNodesByOrg(): Promise<Map<string, DataRow[]>> {
    const rows = await this.rows(
      `SELECT organization_name, host_name, count(*), sum(task_runs), ${ts('min(first_automation)')}, ${ts('max(last_automation)')}
       FROM ${this.src} WHERE organization_name IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2 NULLS LAST`,
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

  /** One organization's managed nodes: host, job runs, task runs, first, last automation. */
  managedNodesOfOrg(org: string): Promise<DataRow[]> {
    const i = this.params.length + 1;
    return this.rows(
      `SELECT host_name, count(*), sum(task_runs), ${ts('min(first_automation)')}, ${ts('max(last_automation)')}
       FROM ${this.src} WHERE organization_name = $${i} GROUP BY host_name ORDER BY host_name NULLS LAST`,
      [3, 4],
      [org],
    );
  }

  /** Jobs sheet: template, organization, job runs, unique nodes, non-unique nodes, task runs, first/last run. */
  jobs(): Promise<DataRow[]> {
    return this.rows(
      `SELECT job_template_name, organization_name, count(DISTINCT (job_remote_id, install_uuid)), count(DISTINCT host_name),
         count(*), sum(task_runs), ${ts('min(job_created)')}, ${ts('max(job_created)')}
       FROM ${this.src} GROUP BY organization_name, job_template_name ORDER BY organization_name NULLS LAST, job_template_name NULLS LAST`,
      [6, 7],
    );
  }

  /** Usage by organizations: organization, job runs, unique nodes, non-unique nodes, task runs. */
  usageByOrganizations(): Promise<DataRow[]> {
    return this.rows(
      `SELECT organization_name, count(DISTINCT (job_remote_id, install_uuid)), count(DISTINCT host_name), count(*), sum(task_runs)
       FROM ${this.src} GROUP BY organization_name ORDER BY organization_name NULLS LAST`,
    );
  }

  /**
   * Usage by collection/role/module: key, unique nodes, non-unique nodes (host+install+job),
   * task runs, duration. Event hosts are first mapped to their ansible_host through the roll-up.
   */
  contentUsage(key: 'collection_name' | 'role_name' | 'module_name'): Promise<DataRow[]> {
    if (!this.t.events) return Promise.resolve([]);
    return this.rows(
      `WITH m AS (SELECT original_host_name, install_uuid, job_remote_id, max(host_name) AS host_name FROM ${this.src} GROUP BY ALL),
       e AS (SELECT COALESCE(m.host_name, e.host_name) AS host_name, e.${key} AS k, e.install_uuid, e.job_remote_id, e.task_runs, e.duration
             FROM ${this.t.events} e LEFT JOIN m ON m.original_host_name = e.host_name
               AND m.install_uuid IS NOT DISTINCT FROM e.install_uuid AND m.job_remote_id IS NOT DISTINCT FROM e.job_remote_id)
       SELECT k, count(DISTINCT host_name),
         count(DISTINCT host_name || '__' || COALESCE(install_uuid, 'nan') || '__' || COALESCE(job_remote_id::VARCHAR, 'nan')),
         sum(task_runs), sum(duration)::DOUBLE
       FROM e GROUP BY k ORDER BY k NULLS LAST`,
    );
  }
}
