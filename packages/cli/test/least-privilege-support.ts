import { existsSync, readdirSync } from 'node:fs';
import { runCli } from './run-cli.js';

/** Run `tally argv` in process with this environment; its exit code and what it wrote. */
export const cli = (argv: string[], env: Record<string, string | undefined>, cwd: string) => runCli(argv, env, cwd);

/** The tarballs under a ship path (none when it does not exist). */
export const tarballs = (root: string) =>
  existsSync(root) ? readdirSync(root, { recursive: true }).map(String).filter((f) => f.endsWith('.tar.gz')) : [];

/** One day-sliced collector over two days of the seeded controller: two tarballs. */
export const WINDOW = ['--since', '2024-03-09', '--until', '2024-03-11', '--collectors', 'job_host_summary'];

/** Ship gathered tarballs to a directory, reading the controller at `dbUrl`. */
export const shipEnv = (dbUrl: string, shipPath: string) => ({
  DATABASE_URL: dbUrl,
  METRICS_UTILITY_SHIP_TARGET: 'directory',
  METRICS_UTILITY_SHIP_PATH: shipPath,
});
