import { ConfigError, isoDate, monthWindow, type TallyConfig } from '@tally/core';
import { type PeriodCoverage, periodCoverage, type ReportPeriod } from '@tally/reports';
import type { Store } from '@tally/storage';
import { gapLine } from './gap-lines.js';
import { type CliIO, cliLogger } from './io.js';
import { createStore } from './storage-factory.js';

export interface CoverageOptions {
  json?: boolean;
  month?: string;
  since?: Date;
  until?: Date;
  /** The run's "now" (tests): the default end of a --since range. */
  now?: Date;
  /** Use this storage instead of building one from METRICS_UTILITY_SHIP_TARGET. */
  storage?: Store;
}

/** The period of `--month` or `--since [--until]`, as `tally report` reads it. */
export function coveragePeriod(opts: CoverageOptions): ReportPeriod {
  if (opts.month && (opts.since || opts.until)) throw new ConfigError('--month and --since/--until cannot be combined', { field: 'month' });
  if (opts.month) {
    monthWindow(opts.month);
    return { month: opts.month };
  }
  if (!opts.since) throw new ConfigError('--until needs --since', { field: 'until' });
  const until = opts.until ?? opts.now ?? new Date();
  if (isoDate(opts.since) > isoDate(until)) throw new ConfigError(`--since (${isoDate(opts.since)}) is after --until (${isoDate(until)})`, { field: 'since' });
  return { since: opts.since, until };
}

export function formatCoverage(c: PeriodCoverage): string {
  const head = `Data coverage ${c.start.toISOString()} – ${c.end.toISOString()}: ${c.rows.length} collection(s) in data_collection_status.csv`;
  if (c.rows.length === 0) return `${head}; nothing was collected in this period.\n`;
  if (c.gaps.length === 0) return `${head}; no gaps.\n`;
  return `${head}; ${c.gaps.length} gap(s):\n${c.gaps.map((g) => `  ${gapLine(g)}`).join('\n')}\n`;
}

/** `tally status --month|--since`: the gaps of a period, from the stored tarballs. */
export async function coverageCommand(cfg: TallyConfig, opts: CoverageOptions, io: CliIO): Promise<PeriodCoverage> {
  const period = coveragePeriod(opts);
  const log = cliLogger(io, { command: 'status' });
  const storage = opts.storage ?? (await createStore(cfg, 'report', { logger: log }));
  try {
    const coverage = await periodCoverage(storage, period, log);
    for (const f of coverage.failures) log.warn('tarball skipped', { ...f });
    // The JSON's gaps as documented: their ends as Dates (the µs copies are for the workbook's cells).
    const gaps = coverage.gaps.map(({ fileName, from, until, seconds }) => ({ fileName, from, until, seconds }));
    io.stdout.write(
      opts.json
        ? `${JSON.stringify({ start: coverage.start, end: coverage.end, collections: coverage.rows.length, gaps }, null, 2)}\n`
        : formatCoverage(coverage),
    );
    return coverage;
  } finally {
    if (!opts.storage) await storage.close?.();
  }
}
