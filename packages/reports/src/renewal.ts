import { addDays, isoDate, type Logger, type Queryable, ReportError, silentLogger, thisDay, withTempdir } from '@tally/core';
import type { Store } from '@tally/storage';
import { join } from 'node:path';
import { excelDate } from './excel-date.js';
import { epochMicros, type HostMetricRecord, splitMicros } from './renewal-dedup.js';
import { nodeMicros, type RenewalDeduplicator, type RenewalNode, renewalNodes } from './renewal-nodes.js';
import { openWorkbook, setWidths, writeDataTable, writeDataTableBatched } from './sheet.js';
import { border, COLOR, fill, font, updatedLabel } from './styles.js';
import type { BuildResult } from './build.js';

const PAGE = 10_000;

/** `ansible_host` from host variables stored as JSON or YAML text. */
export function ansibleHostOf(variables: string | null): string | null {
  if (!variables) return null;
  try {
    const v = JSON.parse(variables) as Record<string, unknown>;
    return v && typeof v === 'object' && v.ansible_host != null ? String(v.ansible_host) : null;
  } catch {
    const m = /^ansible_host\s*:\s*(.*?)\s*$/m.exec(variables);
    return m?.[1] ? m[1].replace(/^(['"])(.*)\1$/, '$2') : null;
  }
}

/**
 * A timestamptz column as UTC text to the microsecond: node-postgres would parse it into a Date
 * (milliseconds), the reference's psycopg keeps the microseconds. Only this query reads them so;
 * pg's type parsers stay as they are.
 */
const utcText = (column: string) =>
  // to_char gives NULL for ±infinity: their text is refused instead, as psycopg refuses them.
  `CASE WHEN isfinite(${column}) THEN to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') ELSE ${column}::text END AS ${column.replace(/^\w+\./, '')}`;
const UTC_TEXT = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{6})$/;

/** `utcText`'s text as microseconds since 1970 (NaN for NULL); anything else is refused. */
function parseUtcMicros(v: unknown, hostname: string, column: string): number {
  if (v === null || v === undefined) return Number.NaN;
  const m = UTC_TEXT.exec(String(v));
  if (!m) throw new ReportError(`main_hostmetric ${column} of host ${JSON.stringify(hostname)} is not a datetime Renewal Guidance can write: ${String(v)}`);
  const n = (i: number) => Number(m[i]);
  const year = n(1);
  let ms = Date.UTC(year, n(2) - 1, n(3), n(4), n(5), n(6));
  // Date.UTC reads years 0–99 as 1900–1999.
  if (year < 100) ms = new Date(ms).setUTCFullYear(year);
  return ms * 1000 + n(7);
}

/**
 * Host metrics with last_automation ≥ since, joined to inventory hosts by name, in the reference's
 * order (see `inDatabaseOrder`). Paged by the unique hostname (an index scan per page); the join runs
 * on the page only, so each page costs its own rows, not a re-sort of the whole join.
 */
export async function readHostMetrics(db: Queryable, since: Date, pageSize = PAGE): Promise<HostMetricRecord[]> {
  const out: HostMetricRecord[] = [];
  let after: string | null = null;
  for (;;) {
    const { rows }: { rows: Record<string, unknown>[] } = await db.query<Record<string, unknown>>(
      `SELECT hm.hostname, COALESCE(h.id, 0) AS host_id, ${utcText('hm.first_automation')}, ${utcText('hm.last_automation')}, hm.automated_counter,
              hm.deleted_counter, ${utcText('hm.last_deleted')}, hm.deleted,
              h.ansible_facts::jsonb->>'ansible_product_serial' AS serial, h.ansible_facts::jsonb->>'ansible_machine_id' AS machine_id,
              h.variables
         FROM (SELECT * FROM main_hostmetric WHERE last_automation >= $1 AND ($2::text IS NULL OR hostname > $2::text) ORDER BY hostname LIMIT $3) hm
         LEFT JOIN main_host h ON h.name = hm.hostname
        ORDER BY hm.hostname, COALESCE(h.id, 0)`,
      [since, after, pageSize],
    );
    for (const r of rows) out.push(hostMetricRecord(r));
    const hostnames = new Set(rows.map((r) => String(r.hostname)));
    if (hostnames.size < pageSize) return inDatabaseOrder(db, out);
    after = out[out.length - 1]!.hostname;
  }
}

/**
 * The records in metrics-utility's order, `ORDER BY CONCAT(main_hostmetric.hostname, '___',
 * COALESCE(main_host.id, 0))`, which decides which record starts a group (see `dedupGroups`).
 * PostgreSQL sorts the same expression over the same column, so under the same collation as the
 * reference's query (the column's, normally the database default): in a "C" database `host10___3`
 * sorts before `host1___5`; a linguistic collation may order otherwise, and Tally follows it.
 */
async function inDatabaseOrder(db: Queryable, records: HostMetricRecord[]): Promise<HostMetricRecord[]> {
  if (records.length < 2) return records;
  const { rows } = await db.query<{ i: string }>(
    `SELECT t.i FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS t(hostname, host_id, i)
       LEFT JOIN main_hostmetric hm ON hm.hostname = t.hostname
      ORDER BY CONCAT(COALESCE(hm.hostname, t.hostname), '___', t.host_id)`,
    [records.map((r) => r.hostname), records.map((r) => r.hostId)],
  );
  const seen = new Uint8Array(records.length); // main_hostmetric.hostname is unique; guard anyway
  const out: HostMetricRecord[] = [];
  for (const r of rows) {
    const i = Number(r.i) - 1;
    if (seen[i]) continue;
    seen[i] = 1;
    out.push(records[i]!);
  }
  return out;
}

function hostMetricRecord(r: Record<string, unknown>): HostMetricRecord {
  const hostname = String(r.hostname);
  const first = splitMicros(parseUtcMicros(r.first_automation, hostname, 'first_automation'));
  const last = splitMicros(parseUtcMicros(r.last_automation, hostname, 'last_automation'));
  const deleted = splitMicros(parseUtcMicros(r.last_deleted, hostname, 'last_deleted'));
  return {
    hostname,
    hostId: Number(r.host_id),
    firstAutomation: first.date,
    lastAutomation: last.date,
    automatedCounter: Number(r.automated_counter ?? 0),
    deletedCounter: Number(r.deleted_counter ?? 0),
    lastDeleted: deleted.date,
    deleted: r.deleted === true,
    ansibleProductSerial: (r.serial as string | null) ?? null,
    ansibleMachineId: (r.machine_id as string | null) ?? null,
    ansibleHostVariable: ansibleHostOf((r.variables as string | null) ?? null),
    micros: { firstAutomation: first.micros, lastAutomation: last.micros, lastDeleted: deleted.micros },
  };
}

export interface RenewalSummary {
  nodes: RenewalNode[];
  active: RenewalNode[];
  deleted: RenewalNode[];
  ephemeral?: RenewalNode[];
  /** Each window's last microsecond is `end` and 999 µs (the reference's end: start + days − 1 µs). */
  windows?: { start: Date; end: Date; count: number }[];
}

/**
 * Split nodes into active / deleted (and, with `ephemeralDays`, ephemeral: automated for at
 * most N days and first automated at least N−1 days before today), with the per-day windows.
 */
export function summarizeRenewal(nodes: RenewalNode[], opts: { ephemeralDays?: number; since: Date; until: Date; now: Date }): RenewalSummary {
  const byName = (a: RenewalNode, b: RenewalNode) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0);
  const sorted = [...nodes].sort(byName);
  const deleted = sorted.filter((n) => n.deleted);
  if (opts.ephemeralDays === undefined) return { nodes: sorted, active: sorted.filter((n) => !n.deleted), deleted };
  const days = opts.ephemeralDays;
  // Compared to the microsecond, as the reference's datetimes are.
  const threshold = epochMicros(addDays(thisDay(opts.now), -(days - 1)));
  const isEphemeral = (n: RenewalNode) => n.daysAutomated <= days && nodeMicros(n).first <= threshold;
  const ephemeralAll = sorted.filter(isEphemeral);
  const times = ephemeralAll.map(nodeMicros);
  const windows: { start: Date; end: Date; count: number }[] = [];
  const rangeEnd = epochMicros(addDays(thisDay(opts.until), 1)) - 1;
  for (let start = thisDay(opts.since); ; start = addDays(start, 1)) {
    const from = epochMicros(start);
    const to = epochMicros(addDays(start, days)) - 1;
    if (to > rangeEnd) break;
    // A missing time is NaN: it compares false, as NaT does.
    const names = new Set(ephemeralAll.filter((_, i) => times[i]!.last >= from && times[i]!.first <= to).map((n) => n.hostname));
    windows.push({ start, end: splitMicros(to).date!, count: names.size });
  }
  return {
    nodes: sorted,
    active: sorted.filter((n) => !n.deleted && !isEphemeral(n)),
    deleted,
    ephemeral: ephemeralAll.filter((n) => !n.deleted),
    windows,
  };
}

export const HOST_METRIC_HEADERS = [
  'Host name', 'First\nautomation', 'Last\nautomation', 'Number of\nAutomations', 'Number of days\nbetween first_automation\nand last_automation',
  'Number of\nDeletions', 'Last\ndeleted', 'HostMetric\nrecord count', 'HostMetric active\nrecord count', 'HostMetric deleted\nrecord count',
  'Host names', 'Variables ansible_host', 'Serial Numbers', 'Machine UUIDs',
];
/** A time cell as openpyxl writes the reference's (microseconds kept in the serial); empty when missing. */
const dateCell = (us: number) => (Number.isNaN(us) ? null : excelDate(us));
const nodeRow = (n: RenewalNode) => {
  const us = nodeMicros(n);
  return [
    n.hostname, dateCell(us.first), dateCell(us.last), n.automatedCounter, n.daysAutomated, n.deletedCounter, dateCell(us.deleted),
    n.recordCount, n.activeRecordCount, n.deletedRecordCount, n.hostnames, n.ansibleHosts, n.serials, n.machineIds,
  ];
};
const NODE_WIDTHS = Object.fromEntries(HOST_METRIC_HEADERS.map((_, i) => [i + 1, i === 0 ? 40 : 20]));

/** Write the Renewal Guidance workbook. */
export async function writeRenewal(filename: string, s: RenewalSummary, p: { reportPeriod: string; now: Date; sheets: readonly string[] }): Promise<void> {
  const wb = await openWorkbook(filename);
  const ws = wb.addWorksheet('Usage Reporting');
  setWidths(ws, { 1: 45, 2: 30, 3: 15, 4: 15, 5: 15, 6: 20, 7: 15, 8: 30, 9: 20, 10: 20, 11: 20 });
  ws.getCell('A1').value = 'Renewal guidance';
  ws.getCell('A1').font = font(12, { bold: true });
  ws.getCell('D1').value = updatedLabel(p.now);
  ws.getCell('D1').font = font(12);
  ws.mergeCells('A1:B1');
  ws.getCell('A2').value = 'Report Period (YYYY-MM-DD, YYYY-MM-DD)';
  ws.getCell('A2').font = font(12);
  ws.getCell('B2').value = p.reportPeriod;
  ws.getCell('B2').font = font(12);
  ws.getCell('B2').fill = fill(COLOR.green);
  const head = ws.getRow(3);
  head.height = 35;
  ['Description', 'Quantity'].forEach((h, i) => {
    const c = head.getCell(i + 1);
    c.value = h;
    c.font = font(10, { bold: true });
    c.border = border('medium');
    c.alignment = { horizontal: 'center', vertical: 'middle', wrapText: true };
  });
  const lines: [string, number][] = s.ephemeral
    ? [
        ['Automated hosts', s.active.length],
        ['Ephemeral automated hosts total', s.ephemeral.length],
        ['Ephemeral automated hosts maximum\nconcurrent usage in defined interval', Math.max(0, ...(s.windows ?? []).map((w) => w.count))],
        ['Deleted Automated hosts', s.deleted.length],
      ]
    : [
        ['Automated hosts', s.active.length],
        ['Deleted Automated hosts', s.deleted.length],
      ];
  lines.forEach(([label, n], i) => {
    const row = ws.getRow(4 + i);
    row.height = 25;
    row.getCell(1).value = label;
    row.getCell(2).value = n;
    for (const c of [1, 2]) {
      row.getCell(c).font = font(10);
      row.getCell(c).border = border('dotted', { top: i !== 0 });
    }
  });
  ws.commit();
  if (p.sheets.includes('managed_nodes')) {
    const add = (title: string, nodes: RenewalNode[]) => {
      const sheet = wb.addWorksheet(title);
      setWidths(sheet, NODE_WIDTHS);
      writeDataTableBatched(sheet, HOST_METRIC_HEADERS, nodes.length, (i) => nodeRow(nodes[i]!));
      sheet.commit();
    };
    add('Managed nodes', s.active);
    if (s.ephemeral) {
      add('Managed nodes ephemeral', s.ephemeral);
      const usage = wb.addWorksheet('Managed nodes ephemeral usage');
      setWidths(usage, { 1: 20, 2: 20, 3: 20 });
      writeDataTable(usage, ['Start of the\nephemeral window', 'End of the\nephemeral window', 'Ephemeral automated hosts'], (s.windows ?? []).map((w) => [dateCell(epochMicros(w.start)), dateCell(epochMicros(w.end, 999)), w.count]));
      usage.commit();
    }
    add('Deleted Managed nodes', s.deleted);
  }
  await wb.commit();
}

export interface BuildRenewalOptions {
  db: Queryable;
  storage: Store;
  since: Date;
  /** Default: today. */
  until?: Date;
  ephemeralDays?: number;
  /** REPORT_RENEWAL_GUIDANCE_DEDUP_ITERATIONS (default 3). */
  iterations?: number;
  /** METRICS_UTILITY_DEDUPLICATOR (default `renewal`, the reference's rule; see `deduplicatorFor`). */
  deduplicator?: RenewalDeduplicator;
  sheets?: readonly string[];
  force?: boolean;
  now?: Date;
  logger?: Logger;
}

/** Build the Renewal Guidance workbook from the controller database and put it into storage. */
export async function buildRenewalReport(opts: BuildRenewalOptions): Promise<BuildResult> {
  const log = opts.logger ?? silentLogger;
  const now = opts.now ?? new Date();
  const until = opts.until ?? now;
  const period = `${isoDate(opts.since)}, ${isoDate(until)}`;
  const name = `reports/${isoDate(until).slice(0, 4)}/${isoDate(until).slice(5, 7)}/RENEWAL_GUIDANCE-${isoDate(opts.since)}--${isoDate(until)}.xlsx`;
  if (!opts.force && (await opts.storage.exists(name))) {
    const message = `Skipping report generation, report: ${name} already exists`;
    log.info(message);
    return { status: 'skipped', name, message, failures: [] };
  }
  const records = await readHostMetrics(opts.db, opts.since);
  if (records.length === 0) {
    const message = `No billing data for input date range ${isoDate(opts.since)}--${isoDate(until)}`;
    log.info(message);
    return { status: 'empty', name, message, failures: [] };
  }
  const summary = summarizeRenewal(renewalNodes(records, { iterations: opts.iterations ?? 3, deduplicator: opts.deduplicator ?? 'renewal' }), { ephemeralDays: opts.ephemeralDays, since: opts.since, until, now });
  await withTempdir('tally-report', async (dir) => {
    const file = join(dir, 'report.xlsx');
    await writeRenewal(file, summary, { reportPeriod: period, now, sheets: opts.sheets ?? ['managed_nodes'] });
    await opts.storage.put(name, { filename: file });
  });
  const message = `Report generated into: ${name}`;
  log.info(message);
  return { status: 'written', name, message, failures: [] };
}
