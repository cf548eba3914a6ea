import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface Measurement {
  wallS: number;
  cpuS: number;
  peakRssMiB: number;
  exitCode: number;
  stdout: string;
  stderr: string;
}

const TIME = '/usr/bin/time';

/**
 * Run a command under `/usr/bin/time -v` and read wall time, CPU time (user+sys)
 * and peak RSS of the whole process tree, as the issue asks ("as /usr/bin/time -v reports it").
 */
export async function measure(argv: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Measurement> {
  if (!existsSync(TIME)) throw new Error(`${TIME} is missing: install Debian's "time" package (apt-get install -y time)`);
  const started = process.hrtime.bigint();
  const child = spawn(TIME, ['-v', ...argv], { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => { stdout += c; });
  child.stderr.on('data', (c) => { stderr += c; });
  const exitCode: number = await new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  const num = (re: RegExp) => Number(re.exec(stderr)?.[1] ?? Number.NaN);
  const user = num(/User time \(seconds\): ([\d.]+)/);
  const sys = num(/System time \(seconds\): ([\d.]+)/);
  const rssKb = num(/Maximum resident set size \(kbytes\): (\d+)/);
  const timeReport = stderr.indexOf('\tCommand being timed');
  return {
    wallS,
    cpuS: user + sys,
    peakRssMiB: rssKb / 1024,
    exitCode,
    stdout,
    stderr: timeReport >= 0 ? stderr.slice(0, timeReport) : stderr,
  };
}

export function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '—';
}

/**
 * `measure` run `times` times in a row: the run with the median wall time, with every run's wall
 * time and the highest peak RSS of all runs. This machine is shared (CPU steal comes and goes),
 * so one run says little; a failed run stops at once.
 */
export async function measureRuns(
  argv: string[],
  times: number,
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<Measurement & { walls: number[] }> {
  const runs: Measurement[] = [];
  for (let i = 0; i < Math.max(1, times); i++) {
    const m = await measure(argv, opts);
    runs.push(m);
    if (m.exitCode !== 0) break;
  }
  const failed = runs.find((m) => m.exitCode !== 0);
  const byWall = [...runs].sort((a, b) => a.wallS - b.wallS);
  const median = failed ?? byWall[Math.floor((byWall.length - 1) / 2)]!;
  return { ...median, peakRssMiB: Math.max(...runs.map((m) => m.peakRssMiB)), walls: runs.map((m) => m.wallS) };
}
