import { type Logger, loadConfig, type TallyConfig, TallyError } from '@tally/core';
import { type DuckDbOptions, type ReadProgress, type RollupPeriod, type RollupResult, rollup } from '@tally/dataframes';
import type { Store } from '@tally/storage';
import { type CliIO, cliLogger, isInteractive } from './io.js';
import { besideProgress, logReadProgress, ttyReadProgress } from './progress.js';
import { createStore } from './storage-factory.js';

export interface RollupCommandOptions {
  since: Date;
  until?: Date;
  period: RollupPeriod;
  config?: string;
}

/** TALLY_DUCKDB_MEMORY_LIMIT / TALLY_DUCKDB_THREADS, when set; unset, each command keeps its measured default. */
export function duckdbOptions(cfg: TallyConfig): DuckDbOptions {
  return { ...(cfg.duckdbMemoryLimit ? { memoryLimit: cfg.duckdbMemoryLimit } : {}), ...(cfg.duckdbThreads ? { threads: cfg.duckdbThreads } : {}) };
}

/** Roll the tarballs of `[since, until)` in `storage` up; the shared core of `rollup` and `demo`. */
export async function invokeRollup(
  storage: Store,
  w: { since: Date; until: Date; period: RollupPeriod; countUnreachableHosts?: boolean; duckdb?: DuckDbOptions; onProgress?: (p: ReadProgress) => void },
  io: CliIO,
  logger: Logger = cliLogger(io, { command: 'rollup' }),
): Promise<RollupResult> {
  if (w.since.getTime() >= w.until.getTime()) {
    throw new TallyError(`rollup: --since ${w.since.toISOString()} is not before --until ${w.until.toISOString()}`);
  }
  return rollup({ storage, since: w.since, until: w.until, period: w.period, reachableOnly: !w.countUnreachableHosts, logger, duckdb: w.duckdb, onProgress: w.onProgress });
}

/** `tally rollup`: Parquet under {ship_path}/rollups/, one partition per kind, period and date. */
export async function rollupCommand(opts: RollupCommandOptions, io: CliIO): Promise<void> {
  const cfg = loadConfig({ env: io.env, ...(opts.config ? { file: opts.config } : {}) });
  const logger = cliLogger(io, { command: 'rollup' });
  const interactive = isInteractive(io);
  const progress = interactive ? ttyReadProgress(io.stderr, 'rollup') : logReadProgress(logger);
  const storage = await createStore(cfg, 'rollup', { logger });
  try {
    const w = { since: opts.since, until: opts.until ?? new Date(), period: opts.period, countUnreachableHosts: cfg.countUnreachableHosts ?? false, duckdb: duckdbOptions(cfg), onProgress: progress.update };
    const result = await invokeRollup(storage, w, io, interactive ? besideProgress(logger, progress) : logger).finally(() => progress.clear());
    for (const p of result.parts) io.stdout.write(`${p.name}\n`);
    const rows = result.parts.reduce((n, p) => n + p.rows, 0);
    const summary = `rolled ${result.tarballs.length} tarball(s) up into ${result.parts.length} Parquet file(s), ${rows} row(s)`;
    if (isInteractive(io)) io.stderr.write(`${summary}\n`);
    else logger.info(summary, { tarballs: result.tarballs.length, parts: result.parts.length, rows, failures: result.failures.length });
    for (const f of result.failures) logger.warn('tarball skipped', { ...f });
  } finally {
    await storage.close?.();
  }
}
