import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { errorMessage, TallyError } from '@tally/core';
import { COUNTING_RULE_VERSION, hashObject, type HashedObject, type PeriodUsage, type RollupInput, type RollupPeriod, readManifest } from '@tally/dataframes';
import { listTarballs } from '@tally/extractors';
import type { Store } from '@tally/storage';
import type { ReportParams } from './params.js';
import type { ReportTarget } from './build.js';

/** `reports/…/CCSPv2-2024-03.xlsx` → `reports/…/CCSPv2-2024-03.inputs.json` */
export function auditName(workbook: string): string {
  return `${workbook.replace(/\.xlsx$/, '')}.inputs.json`;
}

/** A tarball or rollup part a workbook was computed from, as it was then. */
export interface AuditInput extends HashedObject {
  kind: 'tarball' | 'rollup';
  /** Rows it contributed (rollup parts: grouped rows). */
  rows?: number | undefined;
  /** A tarball's data records, per CSV member read. */
  csvRows?: Record<string, number> | undefined;
  /** A rollup part's own inputs: the tarballs it was built from. */
  builtFrom?: (HashedObject & { csvRows?: Record<string, number> })[] | undefined;
}

/** `{report}.inputs.json`: what a workbook was computed from, enough to check it later. */
export interface ReportAudit {
  format: 1;
  tally: string;
  reportType: string;
  workbook: string;
  period: string;
  /** `[since, until)` of the day folders read. */
  days: { since: string; until: string };
  parameters: Omit<ReportParams, 'now'> & { now: string };
  countUnreachableHosts: boolean;
  /** What that rule computed (`COUNTING_RULE_VERSION` of @tally/dataframes). */
  countingRuleVersion: number;
  inputs: AuditInput[];
  skipped: { name: string; reason: string }[];
}

const TALLY_VERSION = (() => {
  try {
    return String(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
  } catch {
    return 'unknown';
  }
})();

/** The audit of a workbook: every input hashed now (right after the workbook was computed from it). */
export async function auditOf(
  storage: Store,
  opts: { type: string; target: ReportTarget; since: Date; until: Date; params: ReportParams; countUnreachableHosts: boolean; read: Pick<PeriodUsage, 'inputs' | 'skipped'> },
): Promise<ReportAudit> {
  const inputs: AuditInput[] = [];
  const builtFrom = new Map<string, NonNullable<AuditInput['builtFrom']>>();
  const rollups = opts.read.inputs.filter((i) => i.kind === 'rollup').map((i) => /\/period=(day|week|month)\/date=([^/]+)\//.exec(i.name));
  for (const key of new Set(rollups.map((m) => (m ? `${m[1]}/${m[2]}` : undefined)))) {
    if (!key) continue;
    const [period, date] = key.split('/') as [RollupPeriod, string];
    const m = await readManifest(storage, period, date);
    const built = (inputs: RollupInput[]) => inputs.map(({ name, size, sha256, mtimeMs, etag, csvRows }) => ({ name, size, sha256, mtimeMs, etag, ...(csvRows ? { csvRows } : {}) }));
    for (const part of [...Object.values(m?.parts ?? {}), m?.usage?.hosts, m?.usage?.jobs, m?.usage?.content]) if (part) builtFrom.set(part.name, built(m!.inputs));
    // A month-to-date usage rollup is built from its month's days up to this one.
    for (const part of [m?.monthToDate?.hosts, m?.monthToDate?.jobs, m?.monthToDate?.sheets?.hosts, m?.monthToDate?.sheets?.orgs, m?.monthToDate?.content, m?.monthToDate?.status]) if (part) builtFrom.set(part.name, built(m!.monthToDate!.inputs));
  }
  for (const i of opts.read.inputs) {
    // Hashed as it was read, where the reader did; otherwise read again now.
    const hashed: HashedObject = i.sha256 ? { name: i.name, size: i.size, mtimeMs: i.mtimeMs, etag: i.etag, sha256: i.sha256 } : await hashObject(storage, i.name);
    inputs.push({ kind: i.kind, ...hashed, ...(i.rows === undefined ? {} : { rows: i.rows }), ...(i.csvRows === undefined ? {} : { csvRows: i.csvRows }), ...(i.kind === 'rollup' ? { builtFrom: builtFrom.get(i.name) ?? [] } : {}) });
  }
  return {
    format: 1,
    tally: TALLY_VERSION,
    reportType: opts.type,
    workbook: opts.target.name,
    period: opts.target.period,
    days: { since: opts.since.toISOString(), until: opts.until.toISOString() },
    parameters: { ...opts.params, now: opts.params.now.toISOString() },
    countUnreachableHosts: opts.countUnreachableHosts,
    countingRuleVersion: COUNTING_RULE_VERSION,
    inputs,
    skipped: opts.read.skipped,
  };
}

export interface VerifyResult {
  /** The workbook still matches every input it lists, and no tarball was added to its days. */
  ok: boolean;
  /** Each input that changed: missing, different bytes, or a tarball added since. */
  changed: { name: string; reason: string }[];
}

/**
 * Re-read and re-hash every input listed in `{workbook}.inputs.json` (tarballs, rollup parts and
 * the tarballs those were built from) and list the period's tarballs again: does the workbook
 * still match them?
 */
export async function verifyReport(storage: Store, workbook: string): Promise<VerifyResult> {
  const name = auditName(workbook);
  if (!(await storage.exists(name))) throw new TallyError(`${name}: no audit trail next to ${workbook} (reports written before it existed have none)`);
  const local = await storage.get(name);
  let audit: ReportAudit;
  try {
    audit = JSON.parse(await readFile(local.path, 'utf8')) as ReportAudit;
  } catch (err) {
    throw new TallyError(`${name}: not a report audit: ${errorMessage(err)}`, { cause: err });
  } finally {
    await local.release();
  }
  if (audit?.format !== 1 || !Array.isArray(audit.inputs)) throw new TallyError(`${name}: not a report audit (format ${String(audit?.format)})`);
  const changed: VerifyResult['changed'] = [];
  const covered = new Set<string>(audit.skipped.map((s) => s.name));
  const check = async (o: HashedObject) => {
    if (!(await storage.exists(o.name))) return void changed.push({ name: o.name, reason: 'missing' });
    const now = await hashObject(storage, o.name);
    if (now.sha256 !== o.sha256) changed.push({ name: o.name, reason: `changed (sha256 ${o.sha256.slice(0, 12)}… → ${now.sha256.slice(0, 12)}…, ${o.size} → ${now.size} bytes)` });
  };
  for (const i of audit.inputs) {
    covered.add(i.name);
    await check(i);
    for (const t of i.builtFrom ?? []) {
      covered.add(t.name);
      await check(t);
    }
  }
  for (const t of await listTarballs(storage, new Date(audit.days.since), new Date(audit.days.until))) {
    if (!covered.has(t)) changed.push({ name: t, reason: 'added since the report was built' });
  }
  return { ok: changed.length === 0, changed };
}
