import { stat } from 'node:fs/promises';
import { type Collector, type CollectorParams, collectorByKey, controllerCollectors } from '@tally/collectors';
import { ConfigError, errorMessage, loadConfig, type Logger, requireConfig, type TallyConfig, TallyError } from '@tally/core';
import { checkOptionalCollectors, type GatherResult, gather } from '@tally/gather';
import type { Sink } from '@tally/storage';
import { gatherConfig, pickCollectors } from './collector-selection.js';
import { countCsvRows } from './csv-rows.js';
import { connectDatabase, databaseUrl } from './db-connection.js';
import { type CliIO, cliLogger, isInteractive } from './io.js';
import { logProgress, type Progress, ttyProgress } from './progress.js';
import { type OpenedState, openState, type StateChoice, stateChoice, type StateOptions } from './state-choice.js';

export interface GatherCommandOptions extends StateOptions {
  since?: Date;
  until?: Date;
  ship?: boolean;
  dryRun?: boolean;
  collectors?: string[];
  db?: string;
  config?: string;
}

/**
 * Settings collectors need beyond the database (total_workers_vcpu's Prometheus). A token or
 * CA left unset is not passed, so the collector falls back to the pod's service account files;
 * a CA variable set to "" is passed as "", so the collector can say verification stays on.
 */
function collectorParams(cfg: TallyConfig): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  if (cfg.clusterName) p.clusterName = cfg.clusterName;
  if (cfg.usageBasedMeteringEnabled !== undefined) p.meteringEnabled = cfg.usageBasedMeteringEnabled;
  if (cfg.prometheusUrl) p.prometheusUrl = cfg.prometheusUrl;
  if (cfg.prometheusCaPath !== undefined) p.caCertPath = cfg.prometheusCaPath;
  if (cfg.prometheusToken) p.token = cfg.prometheusToken;
  return p;
}

/** What config.json may record about the target (gather keeps only fields that are safe to persist). */
function billingParams(cfg: TallyConfig): Record<string, unknown> {
  return {
    ship_path: cfg.shipPath,
    bucket_name: cfg.bucketName,
    bucket_endpoint: cfg.bucketEndpoint,
    bucket_region: cfg.bucketRegion,
    billing_provider: cfg.billingProvider,
    billing_account_id: cfg.billingAccountId,
    red_hat_org_id: cfg.redHatOrgId,
  };
}

/** Report each collector run as it finishes: slice, rows (on a terminal) and bytes. */
function observed(c: Collector, progress: Progress, countRows: boolean): Collector {
  const wrapped = (params: CollectorParams) => {
    const inst = c(params);
    return {
      ...inst,
      meta: inst.meta,
      params: inst.params,
      gather: async () => {
        const slice = { since: params.since, until: params.until };
        progress.collectorStarted(c.meta.key, slice);
        try {
          const res = await inst.gather();
          if (res.format === 'csv') {
            let bytes = 0;
            let rows = 0;
            for (const f of res.files) {
              bytes += (await stat(f)).size;
              if (countRows) rows += await countCsvRows(f);
            }
            progress.collectorFinished(c.meta.key, { bytes, files: res.files.length, slice, ...(countRows ? { rows } : {}) });
          } else {
            progress.collectorFinished(c.meta.key, { slice, ...(res.data ? { bytes: JSON.stringify(res.data).length } : {}) });
          }
          return res;
        } catch (err) {
          progress.collectorFailed(c.meta.key, errorMessage(err));
          throw err;
        }
      },
    };
  };
  return Object.assign(wrapped, { meta: c.meta }) as Collector;
}

export interface GatherInvocation {
  cfg: TallyConfig;
  dbUrl: string;
  since?: Date;
  until?: Date;
  mode: 'ship' | 'dry-run';
  collectors?: readonly string[];
  io: CliIO;
  logger: Logger;
  progress: Progress;
  /** A sink to ship to instead of the configured one (the demo's directory). */
  storage?: Sink;
  /** Count CSV rows for progress (costs a read of each file). */
  countRows?: boolean;
  /** Where watermarks, run status and the cluster lock are kept (default the controller database). */
  state?: StateChoice;
}

export interface GatherOutcome {
  result: GatherResult;
  watermarks: Map<string, Date>;
  failures: { collector?: string; tarball?: string; error: string }[];
}

/** Connect, gather and ship (or keep, for a dry run) once; the shared core of `gather`, `schedule` and `demo`. */
export async function invokeGather(inv: GatherInvocation): Promise<GatherOutcome> {
  const { cfg } = inv;
  // Before connecting, and also when --collectors replaces the list: a bad name stops the run (exit 2).
  if (cfg.optionalCollectors) checkOptionalCollectors(controllerCollectors, cfg.optionalCollectors);
  const pick = pickCollectors(inv.collectors);
  const config = gatherConfig(cfg);
  if (pick.optional) {
    config.optionalCollectors = pick.optional.filter((k) => collectorByKey(k)?.meta.optional);
    config.disableJobHostSummary = !pick.optional.includes('job_host_summary');
  }
  if (inv.mode === 'ship' && !inv.storage && cfg.shipTarget === 'crc') {
    // As metrics-utility: console billing data must say whom to bill.
    requireConfig(cfg, ['billingProvider', 'billingAccountId'], 'METRICS_UTILITY_SHIP_TARGET=crc');
  }
  // A dry run ships to a local directory of its own; only --ship needs the configured target.
  const storage = inv.storage ?? (inv.mode === 'ship' ? await (await import('./storage-factory.js')).createSink(cfg, { logger: inv.logger }) : undefined);
  const db = await connectDatabase(inv.dbUrl, 'tally gather');
  let state: OpenedState | undefined;
  try {
    state = await openState(inv.state ?? { kind: 'controller' }, db, 'tally gather');
    const progressLogger = progressAwareLogger(inv.logger, inv.progress);
    const result = await gather({
      db,
      collectors: pick.collectors.map((c) => observed(c, inv.progress, inv.countRows ?? false)),
      ...(storage ? { storage } : {}),
      stateStore: state.store,
      lock: state.lock,
      ...(inv.since ? { since: inv.since } : {}),
      ...(inv.until ? { until: inv.until } : {}),
      dryRun: inv.mode === 'dry-run',
      config,
      billingProviderParams: billingParams(cfg),
      collectorParams: collectorParams(cfg),
      logger: progressLogger,
    });
    return {
      result,
      watermarks: new Map(Object.entries(result.watermarks).map(([k, v]) => [k, new Date(v)])),
      failures: result.failures.map((f) => ({
        ...(f.key ? { collector: f.key } : {}),
        ...(f.tarball ? { tarball: f.tarball } : {}),
        error: f.error,
      })),
    };
  } finally {
    await state?.close();
    await db.end().catch(() => {});
    if (!inv.storage) await storage?.close?.();
  }
}

/** Turn gather's "shipped …" / "dry run: wrote …" log lines into progress events; pass the rest on. */
function progressAwareLogger(logger: Logger, progress: Progress): Logger {
  const wrap = (base: Logger): Logger => ({
    debug: (m, f) => base.debug(m, f),
    info: (m, f) => {
      const shipped = /^shipped (\S+)$/.exec(m);
      if (shipped) return progress.tarballShipped(shipped[1]!, typeof f?.bytes === 'number' ? f.bytes : undefined);
      const wrote = /^dry run: wrote (\S+)$/.exec(m);
      if (wrote) return progress.tarballWritten(wrote[1]!);
      base.info(m, f);
    },
    warn: (m, f) => base.warn(m, f),
    error: (m, f) => base.error(m, f),
    child: (fields) => wrap(base.child(fields)),
  });
  return wrap(logger);
}

/** `tally gather`. */
export async function gatherCommand(opts: GatherCommandOptions, io: CliIO): Promise<void> {
  if (!opts.ship && !opts.dryRun) {
    throw new ConfigError('gather: pass --ship to ship the tarballs, or --dry-run to only build them locally', { field: 'ship' });
  }
  const cfg = loadConfig({ env: io.env, ...(opts.config ? { file: opts.config } : {}) });
  const url = databaseUrl(opts.db, io.env, 'tally gather');
  const state = stateChoice(opts, io.env, io.cwd);
  const interactive = isInteractive(io);
  const logger = cliLogger(io, { command: 'gather' });
  const progress = interactive ? ttyProgress(io.stderr) : logProgress(logger);
  const outcome = await invokeGather({
    cfg,
    dbUrl: url,
    ...(opts.since ? { since: opts.since } : {}),
    ...(opts.until ? { until: opts.until } : {}),
    mode: opts.ship ? 'ship' : 'dry-run',
    ...(opts.collectors ? { collectors: opts.collectors } : {}),
    io,
    logger,
    progress,
    countRows: interactive,
    state,
  });
  const { result } = outcome;
  if (result.dryRun) {
    for (const t of result.tarballs) io.stdout.write(`${t.path ?? t.name}\n`);
  }
  if (interactive) {
    const t = progress.totals;
    io.stderr.write(
      `${result.dryRun ? 'dry run: kept' : 'shipped'} ${result.tarballs.length} tarball(s), ${t.collectors} collector run(s)` +
        `${t.failed ? `, ${t.failed} failed` : ''}${result.dryRun && result.outputDir ? ` in ${result.outputDir}` : ''}\n`,
    );
  }
  if (!outcome.failures.length && !result.tarballs.length) {
    // As metrics-utility: a run that collected nothing is a failure an operator should see.
    throw new TallyError(
      `No analytics collected: every selected collector is already gathered up to ${result.until.toISOString()}`,
    );
  }
  if (outcome.failures.length) {
    const first = outcome.failures[0]!;
    throw new TallyError(
      `gather: ${outcome.failures.length} failure(s); first: ${first.collector ?? first.tarball ?? ''}: ${first.error}` +
        (result.dryRun ? '' : ' (see tally status)'),
    );
  }
}
