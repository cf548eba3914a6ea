import { PassThrough } from 'node:stream';
import { run } from '../src/main.js';

/** Run the command line in process with its own stdout/stderr and environment; the exit code and both outputs. */
export async function runCli(argv: string[], env: Record<string, string | undefined> = {}, cwd = process.cwd()) {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (b) => (stdout += b));
  err.on('data', (b) => (stderr += b));
  const code = await run(argv, { stdout: out, stderr: err, env, cwd });
  return { code, stdout, stderr };
}
