// An independent reading of the raw CSVs (core's plain CSV parser, not the DuckDB pipeline under test): what the workbooks must show.
import { readFileSync } from 'node:fs';
import { parseCsv as parseCsvRecords } from '@tally/core';
import { formatG16, openpyxlSerial } from '../src/excel-date.js';

/** Rows keyed by the header; a missing or NULL value reads as ''. */
export function parseCsv(text: string): Record<string, string>[] {
  const [head, ...body] = parseCsvRecords(text);
  if (!head) return [];
  return body.map((r) => Object.fromEntries(head.map((h, i) => [h ?? '', r[i] ?? ''])));
}

/**
 * `2024-03-06 12:00:56.487578+00` → the Date exceljs reads back from the cell (naive UTC): the
 * workbook holds the serial of the microseconds in 16 digits, which exceljs reads and rounds to
 * the millisecond (`excelToDate`): a millisecond off rounding the microseconds near a half.
 */
export function parseTs(s: string): Date | null {
  if (!s) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?/.exec(s);
  if (!m) throw new Error(`bad timestamp ${s}`);
  const us = Number((m[7] ?? '').padEnd(6, '0').slice(0, 6));
  const epochUs = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) * 1000 + us;
  return new Date(Math.round((Number(formatG16(openpyxlSerial(epochUs))) - 25569) * 24 * 3600 * 1000));
}

export interface Rolled {
  org: string;
  template: string | null;
  host: string;
  orig: string;
  uuid: string;
  job: string;
  taskRuns: number;
  hostRuns: number;
  first: Date;
  last: Date;
  jobCreated: Date | null;
}

/**
 * The roll-up of every job_host_summary.csv given (dir → install_uuid from its config.json).
 * `countUnreachable: false` drops rows whose counters other than dark are all 0 (metrics-utility ≥ 0.5).
 */
export function rollUp(dirs: string[], orgFilter?: string[], { countUnreachable = true }: { countUnreachable?: boolean } = {}): Rolled[] {
  const groups = new Map<string, Rolled>();
  for (const dir of dirs) {
    const uuid = JSON.parse(readFileSync(`${dir}/config.json`, 'utf8')).install_uuid as string;
    for (const r of parseCsv(readFileSync(`${dir}/job_host_summary.csv`, 'utf8'))) {
      const org = r.organization_name || 'No organization name';
      if (orgFilter && !orgFilter.includes(org)) continue;
      const host = r.ansible_host_variable || r.host_name!;
      const template = r.job_template_name || null;
      const key = JSON.stringify([org, template, host, r.host_name, uuid, r.job_remote_id]);
      const reachable = ['failures', 'ok', 'skipped', 'ignored', 'rescued'].reduce((s, k) => s + Number(r[k] || 0), 0);
      if (!countUnreachable && reachable === 0) continue;
      const tasks = reachable + Number(r.dark || 0);
      const created = parseTs(r.created!)!;
      const jobCreated = parseTs(r.job_created ?? '');
      const g = groups.get(key);
      if (!g) {
        groups.set(key, { org, template, host, orig: r.host_name!, uuid, job: r.job_remote_id!, taskRuns: tasks, hostRuns: 1, first: created, last: created, jobCreated });
      } else {
        g.taskRuns += tasks;
        g.hostRuns += 1;
        if (created < g.first) g.first = created;
        if (created > g.last) g.last = created;
        if (jobCreated && (!g.jobCreated || jobCreated > g.jobCreated)) g.jobCreated = jobCreated;
      }
    }
  }
  return [...groups.values()];
}

export const cmp = (a: string | null, b: string | null): number =>
  a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1;

function groupBy<T>(xs: T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    m.set(k, [...(m.get(k) ?? []), x]);
  }
  return m;
}
const minD = (ds: Date[]) => new Date(Math.min(...ds.map((d) => d.getTime())));
const maxD = (ds: Date[]) => new Date(Math.max(...ds.map((d) => d.getTime())));

export function orgQuantities(rows: Rolled[]): [string, number][] {
  return [...groupBy(rows, (r) => r.org)].map(([org, rs]) => [org, new Set(rs.map((r) => r.host)).size] as [string, number]).sort((a, b) => cmp(a[0], b[0]));
}

export function managedNodes(rows: Rolled[]): unknown[][] {
  return [...groupBy(rows, (r) => r.host)]
    .sort((a, b) => cmp(a[0], b[0]))
    .map(([host, rs]) => [host, new Set(rs.map((r) => r.org)).size, rs.length, rs.reduce((s, r) => s + r.taskRuns, 0), minD(rs.map((r) => r.first)), maxD(rs.map((r) => r.last))]);
}

export function jobs(rows: Rolled[]): unknown[][] {
  return [...groupBy(rows, (r) => JSON.stringify([r.org, r.template]))]
    .map(([k, rs]) => {
      const [org, template] = JSON.parse(k) as [string, string | null];
      const created = rs.map((r) => r.jobCreated).filter((d): d is Date => d !== null);
      return [template, org, new Set(rs.map((r) => `${r.job}|${r.uuid}`)).size, new Set(rs.map((r) => r.host)).size, rs.length,
        rs.reduce((s, r) => s + r.taskRuns, 0), created.length ? minD(created) : null, created.length ? maxD(created) : null];
    })
    .sort((a, b) => cmp(a[1] as string, b[1] as string) || cmp(a[0] as string | null, b[0] as string | null));
}

export function usageByOrganizations(rows: Rolled[]): unknown[][] {
  return [...groupBy(rows, (r) => r.org)]
    .sort((a, b) => cmp(a[0], b[0]))
    .map(([org, rs]) => [org, new Set(rs.map((r) => `${r.job}|${r.uuid}`)).size, new Set(rs.map((r) => r.host)).size, rs.length, rs.reduce((s, r) => s + r.taskRuns, 0)]);
}

export function orgSheet(rows: Rolled[], org: string): unknown[][] {
  return managedNodes(rows.filter((r) => r.org === org)).map(([host, , runs, tasks, first, last]) => [host, runs, tasks, first, last]);
}
