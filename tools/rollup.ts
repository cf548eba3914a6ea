/**
 * Roll the daily tarballs of a ship path up into Hive-partitioned Parquet
 * (`rollups/{kind}/period={period}/date={date}/part-0.parquet`), through a directory storage.
 *   node --import tsx tools/rollup.ts --ship-path DIR --since 2024-03-01 --until 2024-04-01 [--period month]
 *        [--kinds job_host_summary,main_jobevent,main_host,data_collection_status] [--memory-limit 768MB] [--threads 2]
 * The ship path defaults to METRICS_UTILITY_SHIP_PATH; --since/--until take what `tally` takes
 * (ISO dates, Nd, Nmo). Bad tarballs are named on stderr; the exit code is 1 when any was skipped.
 */
import { parseArgs } from 'node:util';
import { ConfigError, createLogger, exitCodeOf, errorMessage, type Level, loadConfig, parseInstant } from '@tally/core';
import { ROLLUP_KINDS, rollup, type RollupKind, type RollupPeriod } from '@tally/dataframes';
import { DirectoryStorage } from '@tally/storage';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'ship-path': { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      period: { type: 'string', default: 'month' },
      kinds: { type: 'string' },
      'memory-limit': { type: 'string' },
      threads: { type: 'string' },
    },
  });
  const base = values['ship-path'] ?? process.env.METRICS_UTILITY_SHIP_PATH;
  if (!base) throw new ConfigError('--ship-path (or METRICS_UTILITY_SHIP_PATH) is required', { field: 'ship-path' });
  if (!values.since) throw new ConfigError('--since is required, e.g. --since 2024-03-01', { field: 'since' });
  const period = values.period as RollupPeriod;
  if (!['day', 'week', 'month'].includes(period)) {
    throw new ConfigError(`--period: "${period}" is not one of day, week, month`, { field: 'period' });
  }
  const kinds = (values.kinds?.split(',').map((k) => k.trim()) ?? [...ROLLUP_KINDS]) as RollupKind[];
  for (const k of kinds) {
    if (!ROLLUP_KINDS.includes(k)) throw new ConfigError(`--kinds: "${k}" is not one of ${ROLLUP_KINDS.join(', ')}`, { field: 'kinds' });
  }
  const since = parseInstant(values.since, { name: 'since' });
  const until = values.until ? parseInstant(values.until, { name: 'until' }) : new Date();
  const logger = createLogger({ level: (process.env.TALLY_LOG_LEVEL as Level | undefined) ?? 'info' });
  const env = loadConfig({ env: process.env, keys: ['duckdbMemoryLimit', 'duckdbThreads'] });
  const result = await rollup({
    storage: new DirectoryStorage({ base }),
    since,
    until,
    period,
    kinds,
    logger,
    duckdb: { memoryLimit: values['memory-limit'] ?? env.duckdbMemoryLimit, threads: values.threads ? Number(values.threads) : env.duckdbThreads },
  });
  for (const p of result.parts) process.stdout.write(`${p.name}\t${p.rows} rows\n`);
  for (const f of result.failures) process.stderr.write(`skipped ${f.file}: ${f.error}\n`);
  process.stdout.write(`${result.tarballs.length} tarballs read, ${result.parts.length} parts written, ${result.failures.length} skipped\n`);
  return result.failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`tally rollup: ${errorMessage(err)}\n`);
    process.exitCode = exitCodeOf(err);
  },
);
