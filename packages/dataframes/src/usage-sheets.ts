/**
 * The usage sheets' own aggregations of the usage tables (`USAGE_TABLES.hosts`, `.jobs`), written
 * once: the report's queries run them over its usage tables, and the month-to-date merge
 * (month-to-date.ts) stores their results, so that a report of exactly the merged days reads a
 * few thousand ready rows instead of aggregating 200k.
 */

/** One row per host: organizations, job runs (grouped rows), task runs, first and last automation (the Managed nodes sheet). */
export function hostTotalsSelect(hosts: string): string {
  return `SELECT h, count(DISTINCT o) AS orgs, sum(n) AS n, sum(tr) AS tr, min(f) AS f, max(l) AS l FROM ${hosts} GROUP BY h`;
}

/** One row per organization: its distinct hosts, job runs (grouped rows) and task runs. */
export function orgHostsSelect(hosts: string): string {
  return `SELECT o, count(DISTINCT h) AS hosts, sum(n) AS n, sum(tr) AS tr FROM ${hosts} GROUP BY ALL`;
}

/** One row per organization: its distinct jobs (job id, install). */
export function orgRunsSelect(jobs: string): string {
  return `SELECT o, count(DISTINCT (j, u)) AS runs FROM ${jobs} GROUP BY ALL`;
}

/**
 * `orgHostsSelect` and `orgRunsSelect` in one table (o, hosts, n, tr, runs): an organization
 * without hosts has NULL hosts, one without jobs NULL runs.
 */
export function orgTotalsSelect(hosts: string, jobs: string): string {
  return `SELECT COALESCE(h.o, j.o) AS o, h.hosts, h.n, h.tr, j.runs FROM (${orgHostsSelect(hosts)}) h
    FULL JOIN (${orgRunsSelect(jobs)}) j ON j.o IS NOT DISTINCT FROM h.o`;
}

/**
 * Usage sheets' rows already aggregated (tables of `hostTotalsSelect` and `orgTotalsSelect`),
 * standing for the usage tables for the sheets that read only these.
 */
export interface ReadySheets {
  hosts: string;
  orgs: string;
}

/** The tables a report loads ready sheets into. */
export const READY_SHEET_TABLES: ReadySheets = { hosts: 'report_ready_hosts', orgs: 'report_ready_orgs' };
