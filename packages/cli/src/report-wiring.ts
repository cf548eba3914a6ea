import { ConfigError, ENV, loadConfig, monthWindow } from '@tally/core';
import { type CliIO, cliLogger } from './io.js';
import { runReport, runVerify } from './report-command.js';

export interface ReportCommandOptions {
  month?: string;
  since?: Date;
  until?: Date;
  ephemeral?: string;
  force?: boolean;
  db?: string;
  config?: string;
  from?: 'auto' | 'raw';
  writeRollups?: boolean;
  verify?: string;
}

/** `tally report`: options and environment in, `runReport` does the work and prints where the workbook is. */
export async function reportCommand(opts: ReportCommandOptions, io: CliIO): Promise<void> {
  if (opts.month) monthWindow(opts.month); // a bad --month is a usage error before anything is read
  const cfg = loadConfig({ env: io.env, ...(opts.config ? { file: opts.config } : {}) });
  // Elsewhere an empty variable counts as unset; the reference's report runs float('') on this one and fails.
  const price = ENV.pricePerNode;
  if (io.env[price.env] === '') throw new ConfigError(`${price.env}="" is invalid; expected ${price.accepts} (leave it unset for 0)`, { field: price.env });
  const logger = cliLogger(io, { command: 'report' });
  if (opts.verify) {
    await runVerify(cfg, opts.verify, { io, logger });
    return;
  }
  await runReport(cfg, {
    ...(opts.month ? { month: opts.month } : {}),
    ...(opts.since ? { since: opts.since } : {}),
    ...(opts.until ? { until: opts.until } : {}),
    ...(opts.ephemeral ? { ephemeral: opts.ephemeral } : {}),
    ...(opts.db ? { db: opts.db } : {}),
    force: opts.force ?? false,
    ...(opts.from ? { from: opts.from } : {}),
    ...(opts.writeRollups ? { writeRollups: true } : {}),
    env: io.env,
    io,
    logger,
  });
}
