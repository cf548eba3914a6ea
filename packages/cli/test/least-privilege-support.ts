import { existsSync, readdirSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { run } from '../src/main.js';

/** Run `tally argv` in process with this environment; its exit code and what it wrote. */
export async function cli(argv: string[], env: Record<string, string | undefined>, cwd: string) {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (b) => (stdout += b));
  err.on('data', (b) => (stderr += b));
  const code = await run(argv, { stdout: out, stderr: err, env, cwd });
  return { code, stdout, stderr };
}

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
