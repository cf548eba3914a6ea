import { addMonths, ConfigError, ENV, isoDate, TallyError, type Logger, parseEphemeralDays, parseInstant, silentLogger, type TallyConfig, thisMonth } from '@tally/core';
import { buildCcspReport, type BuildResult, buildRenewalReport, DEFAULT_SHEETS, deduplicatorFor, type ReportParams, validateSheets, verifyReport } from '@tally/reports';
import { DirectoryStorage, type Store } from '@tally/storage';
import { gapWarning } from './gap-lines.js';
import { statSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { type CliIO, isInteractive } from './io.js';
import { besideProgress, logReadProgress, ttyReadProgress } from './progress.js';
import { duckdbOptions } from './rollup-command.js';
import { createStore } from './storage-factory.js';

export interface ReportOptions {
  /** `YYYY-MM`; default the previous calendar month. */
  month?: string;
  /** Start of a range (a Date, or text for core parseInstant: `Nd`, `Nm`, `Nmo` and their long spellings, ISO). */
  since?: string | Date;
  /** End of the range (default today). */
  until?: string | Date;
  /** `Nd|Nmo` (Renewal Guidance only). */
  ephemeral?: string;
  force?: boolean;
  /** Controller database URL for RENEWAL_GUIDANCE (default DATABASE_URL). */
  db?: string;
  /** Environment for DATABASE_URL (default `io.env`, else process.env). */
  env?: Record<string, string | undefined>;
  /** The CLI's streams and environment; `message` lines go to its stdout. */
  io?: CliIO;
  /** The run's "now" (tests). */
  now?: Date;
  logger?: Logger;
  /** `raw` reads every tarball; `auto` (default) each day's current rollup and the other days raw. */
  from?: 'auto' | 'raw';
  /** Store daily rollups of the days read raw. */
  writeRollups?: boolean;
  /** Use this storage instead of building one from METRICS_UTILITY_SHIP_TARGET. */
  storage?: Store;
}

export interface ReportOutcome extends BuildResult {
  /** 0 for written, skipped and empty alike (as the reference). */
  exitCode: 0;
  /** Local path of the workbook when the storage is a directory and it was written or kept. */
  path?: string;
}

function outcome(res: BuildResult, storage: Store, io: CliIO | undefined): ReportOutcome {
  io?.stdout.write(`${res.message}\n`);
  const out: ReportOutcome = { ...res, exitCode: 0 };
  if (res.status !== 'empty' && storage instanceof DirectoryStorage) out.path = join(storage.base, res.name);
  return out;
}

const asInstant = (v: string | Date, name: string, now: Date) => (v instanceof Date ? v : parseInstant(v, { name, now }));

/**
 * As the reference's validate_ship_path: a report's local ship path (targets directory and
 * controller_db) must be an existing directory; a mistyped path is refused, not read as no data.
 */
function requireShipDirectory(cfg: TallyConfig): void {
  const path = cfg.shipPath;
  if (!path || (cfg.shipTarget !== 'directory' && cfg.shipTarget !== 'controller_db')) return;
  if (!statSync(path, { throwIfNoEntry: false })?.isDirectory()) {
    throw new ConfigError(`Invalid ${ENV.shipPath.env}: ${path} is not an existing directory.`, { field: ENV.shipPath.env });
  }
}

/** METRICS_UTILITY_ORGANIZATION_FILTER is `;`-separated in the reference. */
function organizationFilter(cfg: TallyConfig): string[] | undefined {
  const names = cfg.organizationFilter ?? [];
  return names.length ? names : undefined;
}

function reportParams(cfg: TallyConfig, now: Date): Omit<ReportParams, 'reportPeriod'> {
  return {
    pricePerNode: cfg.pricePerNode ?? 0,
    sku: cfg.reportSku ?? '',
    skuDescription: cfg.reportSkuDescription ?? '',
    h1Heading: cfg.reportH1Heading ?? '',
    companyName: cfg.reportCompanyName ?? '',
    email: cfg.reportEmail ?? '',
    rhnLogin: cfg.reportRhnLogin ?? '',
    poNumber: cfg.reportPoNumber ?? '',
    companyBusinessLeader: cfg.reportCompanyBusinessLeader ?? '',
    companyProcurementLeader: cfg.reportCompanyProcurementLeader ?? '',
    endUserCompanyName: cfg.reportEndUserCompanyName ?? '',
    endUserCity: cfg.reportEndUserCity ?? '',
    endUserState: cfg.reportEndUserState ?? '',
    endUserCountry: cfg.reportEndUserCountry ?? '',
    sheets: cfg.optionalCcspReportSheets ?? DEFAULT_SHEETS,
    organizationFilter: organizationFilter(cfg),
    now,
  };
}

/**
 * `tally report`: build the METRICS_UTILITY_REPORT_TYPE workbook (default CCSPv2) for a month (default the
 * previous one) or a `--since/--until` range, from tarballs in the ship target (CCSP, CCSPv2)
 * or from the controller database (RENEWAL_GUIDANCE), into `{ship}/reports/YYYY/MM/`.
 */
export async function runReport(cfg: TallyConfig, opts: ReportOptions = {}): Promise<ReportOutcome> {
  const now = opts.now ?? new Date();
  const log = opts.logger ?? silentLogger;
  // Unset is CCSPv2, as the newest reference's validation (it refused an unset type before).
  const type = cfg.reportType ?? 'CCSPv2';
  if (!opts.storage) requireShipDirectory(cfg);
  if (opts.month && opts.since) throw new ConfigError('--month and --since cannot be combined; give a month or a range', { field: 'month' });
  if (opts.until && !opts.since) throw new ConfigError('--until needs --since', { field: 'until' });
  const since = opts.since === undefined ? undefined : asInstant(opts.since, '--since', now);
  const until = opts.until === undefined ? undefined : asInstant(opts.until, '--until', now);
  if (since && until && isoDate(since) > isoDate(until)) {
    throw new ConfigError(`--since (${isoDate(since)}) is after --until (${isoDate(until)})`, { field: 'since' });
  }
  const target = cfg.shipTarget;

  if (type === 'RENEWAL_GUIDANCE') {
    const deduplicator = deduplicatorFor(type, cfg.deduplicator);
    if (target !== 'controller_db') {
      throw new ConfigError(`${ENV.reportType.env}=RENEWAL_GUIDANCE reads the controller database; set ${ENV.shipTarget.env}=controller_db`, { field: ENV.shipTarget.env });
    }
    if (!since) throw new ConfigError('RENEWAL_GUIDANCE needs --since (e.g. --since 12mo)', { field: 'since' });
    const ephemeralDays = opts.ephemeral === undefined ? undefined : parseEphemeralDays(opts.ephemeral);
    if (!cfg.shipPath) throw new ConfigError(`${ENV.shipPath.env} is not set; the report is written under it`, { field: ENV.shipPath.env });
    const storage = opts.storage ?? new DirectoryStorage({ base: cfg.shipPath });
    // pg is loaded only here: CCSP reports never connect to the controller database.
    const { connectDatabase, databaseUrl } = await import('./db-connection.js');
    const client = await connectDatabase(databaseUrl(opts.db ?? cfg.databaseUrl, opts.env ?? opts.io?.env ?? process.env, 'RENEWAL_GUIDANCE'), 'tally-report');
    try {
      const res = await buildRenewalReport({
        db: client,
        storage,
        since,
        ...(until ? { until } : {}),
        ...(ephemeralDays !== undefined ? { ephemeralDays } : {}),
        iterations: cfg.renewalDedupIterations ?? 3,
        deduplicator,
        sheets: cfg.optionalCcspReportSheets ?? DEFAULT_SHEETS,
        force: opts.force ?? false,
        now,
        logger: log,
      });
      return outcome(res, storage, opts.io);
    } finally {
      await client.end().catch(() => {});
    }
  }

  const deduplicator = deduplicatorFor(type, cfg.deduplicator);
  if (opts.ephemeral !== undefined) throw new ConfigError('--ephemeral applies to RENEWAL_GUIDANCE only', { field: 'ephemeral' });
  if (target === 'controller_db') {
    throw new ConfigError(`${ENV.reportType.env}=${type} reads tarballs; set ${ENV.shipTarget.env}=directory or s3`, { field: ENV.shipTarget.env });
  }
  const params = { ...reportParams(cfg, now), deduplicator };
  validateSheets(type, params.sheets);
  const storage = opts.storage ?? (await createStore(cfg, 'report', { logger: log }));
  try {
    const period = since ? { since, until: until ?? now } : { month: opts.month ?? isoDate(addMonths(thisMonth(now), -1)).slice(0, 7) };
    // Live on a terminal (the library's info lines give way to it); JSON lines otherwise.
    const interactive = opts.io !== undefined && isInteractive(opts.io);
    const progress = opts.io && interactive ? ttyReadProgress(opts.io.stderr, 'report') : logReadProgress(log);
    const res = await buildCcspReport({
      type,
      storage,
      period,
      params,
      countUnreachableHosts: cfg.countUnreachableHosts ?? false,
      from: opts.from ?? 'auto',
      writeRollups: opts.writeRollups ?? false,
      force: opts.force ?? false,
      logger: interactive ? besideProgress(log, progress) : log,
      duckdb: duckdbOptions(cfg),
      onProgress: progress.update,
    }).finally(() => progress.clear());
    for (const f of res.failures) log.warn('tarball skipped', { ...f });
    // A bill is never built silently over missing data: one line per collector gap over an hour.
    for (const g of res.gaps ?? []) log.warn(gapWarning(g));
    return outcome(res, storage, opts.io);
  } finally {
    if (!opts.storage) await storage.close?.();
  }
}

/**
 * `tally report --verify {report}`: re-hash the inputs listed in `{report}.inputs.json` and list the
 * period's tarballs again. Prints each changed input; exit 1 (a TallyError) when any changed.
 */
export async function runVerify(cfg: TallyConfig, report: string, opts: { io?: CliIO; logger?: Logger; storage?: Store } = {}): Promise<{ ok: boolean; changed: { name: string; reason: string }[] }> {
  const log = opts.logger ?? silentLogger;
  const storage = opts.storage ?? (await createStore(cfg, 'report', { logger: log }));
  try {
    // A local path under a directory ship target names the same object as its storage name.
    const name = isAbsolute(report) && storage instanceof DirectoryStorage ? relative(storage.base, report) : report;
    const res = await verifyReport(storage, name);
    for (const c of res.changed) opts.io?.stdout.write(`${c.name}: ${c.reason}\n`);
    if (!res.ok) throw new TallyError(`${name} no longer matches its inputs: ${res.changed.length} changed`);
    opts.io?.stdout.write(`${name} matches its inputs\n`);
    return res;
  } finally {
    if (!opts.storage) await storage.close?.();
  }
}
