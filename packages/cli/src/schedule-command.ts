import { collectorByKey } from '@tally/collectors';
import { ConfigError, fileLock, loadConfig, parseInstant, registerSecret, TallyError } from '@tally/core';
import pg from 'pg';
import { runCollect } from './collect-command.js';
import { readCredentialsFile, readQueryFile, readTargetFile, readTokenFile } from './collect-files.js';
import { connectDatabase, databaseUrl } from './db-connection.js';
import { enabledCollectorKeys } from './collector-selection.js';
import { invokeGather } from './gather-command.js';
import { type CliIO, cliLogger } from './io.js';
import { logProgress } from './progress.js';
import { defaultSchedule, readScheduleFile } from './schedule-config.js';
import type { ScheduledCollector, UserCollector } from './schedule-store.js';
import { type CollectorRunResult, Scheduler } from './scheduler.js';
import { openState, scheduleStoreFor, stateChoice, type StateChoice, type StateOptions } from './state-choice.js';
import { readStatus, type StatusReport } from './status-command.js';
import { type LastRun, type StatusServer, startStatusServer } from './status-server.js';

export interface ScheduleCommandOptions extends StateOptions {
  schedule?: string;
  once?: boolean;
  untilLag: string;
  lease: number;
  db?: string;
  config?: string;
  /** HOST:PORT for the status API. */
  listen?: string;
  /** JSON `{"token": "…"}` guarding the status API (else TALLY_STATUS_TOKEN). */
  statusTokenFile?: string;
  /** Serve the status API without a token on a non-loopback address. */
  listenInsecure?: boolean;
}

/** Check a user collector's files now, so a typo is a usage error at start rather than a failed run an hour later. */
function checkUserCollector(c: UserCollector): void {
  readQueryFile(c.query);
  readTargetFile(c.target);
  if (c.credentials) readCredentialsFile(c.credentials);
  if (!c.token) throw new TallyError(`schedule: user collector with query ${c.query} needs a "token" file to send its records`);
  readTokenFile(c.token);
}

/**
 * A scheduled user collector's run: from its watermark (or its `since` on the first run)
 * to `until`; the watermark then moves to what the collector reported with store(),
 * else to `until` — only after every record was delivered.
 */
export async function runUserCollector(c: UserCollector, until: Date, watermark: Date | undefined, signal: AbortSignal, logger: ReturnType<typeof cliLogger>) {
  const since = watermark ?? (c.since ? parseInstant(c.since, { name: 'since' }) : undefined);
  if (since && since.getTime() >= until.getTime()) {
    return { result: { watermark: since, complete: true } as CollectorRunResult, rows: 0, bytes: 0 };
  }
  const out = await runCollect({ files: c, ...(since ? { since } : {}), until, logger, signal });
  const result = out.progress ? { watermark: out.progress.updatedUntil, complete: out.progress.complete } : { watermark: until, complete: true };
  return { result, rows: out.records, bytes: out.bytes };
}

/**
 * `tally schedule`: hold the cluster lock, run each collector on its cron
 * schedule (built-ins: gather + ship up to `--until-lag` ago; user collectors:
 * collect + push), dependencies first; optionally serve the status API.
 */
export async function scheduleCommand(opts: ScheduleCommandOptions, io: CliIO): Promise<void> {
  const cfg = loadConfig({ env: io.env, ...(opts.config ? { file: opts.config } : {}) });
  const url = databaseUrl(opts.db, io.env, 'tally schedule');
  const untilFor = (now: Date) => parseInstant(opts.untilLag, { name: '--until-lag', now });
  untilFor(new Date()); // a bad --until-lag is a usage error now, not at the first tick
  const collectors: ScheduledCollector[] = opts.schedule ? readScheduleFile(opts.schedule) : defaultSchedule(enabledCollectorKeys(cfg));
  for (const c of collectors) {
    if (c.collect) {
      if (c.enabled) checkUserCollector(c.collect);
    } else if (!collectorByKey(c.key)) {
      throw new ConfigError(`schedule: ${c.key} is not a built-in collector; a user collector names its "query" and "target" files`, { field: 'schedule' });
    }
  }
  const byKey = new Map(collectors.map((c) => [c.key, c]));
  const statusToken = opts.statusTokenFile ? readTokenFile(opts.statusTokenFile) : io.env.TALLY_STATUS_TOKEN || undefined;
  registerSecret(statusToken);
  const logger = cliLogger(io, { command: 'schedule' });
  const state = stateChoice(opts, io.env, io.cwd);
  // The schedule lock and run state live with the gather state: in a state database, its connection is the scheduler's.
  const schedulerUrl = state.kind === 'db' ? state.url : url;
  const lastRuns = new Map<string, LastRun>();
  let statusPool: pg.Pool | undefined;
  let server: StatusServer | undefined;
  if (opts.listen) {
    if (state.kind !== 'file') {
      statusPool = new pg.Pool({ connectionString: schedulerUrl, max: 1, application_name: 'tally schedule status' });
      statusPool.on('error', () => {});
    }
    const keys = ['config', ...enabledCollectorKeys(cfg)];
    const pool = statusPool;
    server = await startStatusServer({
      listen: opts.listen,
      ...(statusToken ? { token: statusToken } : {}),
      ...(opts.listenInsecure ? { insecure: true } : {}),
      status: () => statusFrom(state, pool, keys),
      lastRuns: () => lastRuns,
      logger,
    });
    io.stderr.write(`tally schedule: status API on ${server.url}/api/v1/status and ${server.url}/metrics\n`);
  }
  const ac = new AbortController();
  let scheduler: Scheduler | undefined;
  let db: pg.Client | undefined;
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    db = await connectDatabase(schedulerUrl, 'tally schedule');
    const runBuiltin = async (key: string, until: Date) => {
      const progress = logProgress(logger.child({ collector: key }));
      const outcome = await invokeGather({
        cfg,
        dbUrl: url,
        until,
        mode: 'ship',
        collectors: [key],
        io,
        logger: logger.child({ collector: key }),
        progress,
        countRows: opts.listen !== undefined,
        state,
      });
      const failure = outcome.failures.find((f) => f.collector === key);
      if (failure) throw new TallyError(failure.error);
      const watermark = outcome.watermarks.get(key) ?? until;
      return { result: { watermark, complete: watermark.getTime() >= until.getTime() }, rows: progress.totals.rows, bytes: progress.totals.bytesShipped };
    };
    scheduler = new Scheduler({
      db,
      // A long-running schedule outlives database restarts and failovers.
      reconnect: () => connectDatabase(schedulerUrl, 'tally schedule'),
      storeFor: scheduleStoreFor(state),
      ...(state.kind === 'file' ? { lock: fileLock(state.path) } : {}),
      collectors,
      untilFor,
      leaseSeconds: opts.lease,
      lockKey: `tally_schedule_lock${cfg.collectorLockSuffix ? `_${cfg.collectorLockSuffix}` : ''}`,
      logger,
      runCollector: async (key, until, signal, watermark) => {
        const started = Date.now();
        const user = byKey.get(key)?.collect;
        try {
          const run = user ? await runUserCollector(user, until, watermark, signal, logger.child({ collector: key })) : await runBuiltin(key, until);
          lastRuns.set(key, { rows: run.rows, bytes: run.bytes, durationMs: Date.now() - started, ok: true });
          return run.result;
        } catch (err) {
          lastRuns.set(key, { durationMs: Date.now() - started, ok: false });
          throw err;
        }
      },
    });
    const result = await scheduler.run(ac.signal, opts.once ? { once: true } : {});
    if (!result.acquired) {
      logger.info('another runner holds the schedule lock; nothing to do', { lock: scheduler.lockKey });
      return;
    }
    const failed = result.outcomes.filter((o) => o.outcome === 'failed');
    if (failed.length) throw new TallyError(`schedule: ${failed.length} collector run(s) failed: ${failed.map((f) => f.key).join(', ')} (see tally status)`);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await server?.close();
    await statusPool?.end().catch(() => {});
    await (scheduler?.connection ?? db)?.end?.().catch(() => {});
  }
}

/** The status the API serves: read from the state database or controller (`pool`), or from the state file. */
async function statusFrom(state: StateChoice, pool: pg.Pool | undefined, keys: string[]): Promise<StatusReport> {
  if (pool) return readStatus(pool, keys);
  const opened = await openState(state, undefined, 'tally schedule');
  try {
    return await readStatus(opened, keys);
  } finally {
    await opened.close();
  }
}
