import { fileLock, loadConfig, parseInstant, TallyError } from '@tally/core';
import { connectDatabase, databaseUrl } from './db-connection.js';
import { enabledCollectorKeys } from './collector-selection.js';
import { invokeGather } from './gather-command.js';
import { type CliIO, cliLogger } from './io.js';
import { logProgress } from './progress.js';
import { defaultSchedule, readScheduleFile } from './schedule-config.js';
import { Scheduler } from './scheduler.js';
import { scheduleStoreFor, stateChoice, type StateOptions } from './state-choice.js';

export interface ScheduleCommandOptions extends StateOptions {
  schedule?: string;
  once?: boolean;
  untilLag: string;
  lease: number;
  db?: string;
  config?: string;
}

/**
 * `tally schedule`: hold the cluster lock, run each collector on its cron
 * schedule (gather + ship, up to `--until-lag` ago), dependencies first.
 */
export async function scheduleCommand(opts: ScheduleCommandOptions, io: CliIO): Promise<void> {
  const cfg = loadConfig({ env: io.env, ...(opts.config ? { file: opts.config } : {}) });
  const url = databaseUrl(opts.db, io.env, 'tally schedule');
  const untilFor = (now: Date) => parseInstant(opts.untilLag, { name: '--until-lag', now });
  untilFor(new Date()); // a bad --until-lag is a usage error now, not at the first tick
  const collectors = opts.schedule ? readScheduleFile(opts.schedule) : defaultSchedule(enabledCollectorKeys(cfg));
  const logger = cliLogger(io, { command: 'schedule' });
  const state = stateChoice(opts, io.env, io.cwd);
  // The schedule lock and run state live with the gather state: in a state database, its connection is the scheduler's.
  const schedulerUrl = state.kind === 'db' ? state.url : url;
  const db = await connectDatabase(schedulerUrl, 'tally schedule');
  const ac = new AbortController();
  let scheduler: Scheduler | undefined;
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
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
      runCollector: async (key, until) => {
        const outcome = await invokeGather({
          cfg,
          dbUrl: url,
          until,
          mode: 'ship',
          collectors: [key],
          io,
          logger: logger.child({ collector: key }),
          progress: logProgress(logger.child({ collector: key })),
          state,
        });
        const failure = outcome.failures.find((f) => f.collector === key);
        if (failure) throw new TallyError(failure.error);
        const watermark = outcome.watermarks.get(key) ?? until;
        return { watermark, complete: watermark.getTime() >= until.getTime() };
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
    await (scheduler?.connection ?? db).end?.().catch(() => {});
  }
}
