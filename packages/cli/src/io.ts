import { createLogger, type Logger } from '@tally/core';

export type OutStream = NodeJS.WritableStream & { isTTY?: boolean };

/** Where a command reads its environment and writes its output; tests pass their own. */
export interface CliIO {
  stdout: OutStream;
  stderr: OutStream;
  env: Record<string, string | undefined>;
  cwd: string;
}

export function defaultIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

/** Live, human progress on a terminal; quiet structured JSON logs otherwise. */
export function isInteractive(io: CliIO): boolean {
  return io.stderr.isTTY === true && io.env.TALLY_LOG_FORMAT !== 'json';
}

export function cliLogger(io: CliIO, fields?: Record<string, unknown>): Logger {
  const level = io.env.TALLY_LOG_LEVEL as 'debug' | 'info' | 'warn' | 'error' | undefined;
  return createLogger({
    stream: io.stderr,
    format: isInteractive(io) ? 'pretty' : 'json',
    ...(level ? { level } : {}),
    ...(fields ? { fields } : {}),
  });
}
