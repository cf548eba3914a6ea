import { CommanderError } from 'commander';
import { errorMessage, exitCodeOf } from '@tally/core';
import { type CliIO, defaultIO } from './io.js';
import { oneLine, redactSecrets } from './one-line.js';
import { buildProgram } from './program.js';

/** Exit codes, as documented in the README. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/**
 * Run the `tally` command line with `argv` (without `node` and the script) and
 * return the exit code; never calls `process.exit` itself.
 */
export async function run(argv: string[], io: Partial<CliIO> = {}): Promise<number> {
  const full: CliIO = { ...defaultIO(), ...io };
  const program = buildProgram(full);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
      // `tally help` exits 0; `tally` without a command prints the help on stderr: a usage error.
      if (err.code === 'commander.help') return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
      // Commander already wrote its one-line message through outputError.
      return EXIT.usage;
    }
    full.stderr.write(`tally: ${oneLine(redactSecrets(errorMessage(err)))}\n`);
    return exitCodeOf(err);
  }
}
