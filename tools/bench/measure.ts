import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export interface Measurement {
  wallS: number;
  cpuS: number;
  peakRssMiB: number;
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Share of the machine's CPU time the hypervisor gave to other guests meanwhile (NaN if unknown). */
  stealPct: number;
}

/** [steal, total] CPU ticks of the whole machine, from /proc/stat (Linux); undefined elsewhere. */
function cpuTicks(): [number, number] | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    return [fields[7] ?? 0, fields.reduce((a, b) => a + b, 0)];
  } catch {
    return undefined;
  }
}

function stealBetween(before: [number, number] | undefined, after: [number, number] | undefined): number {
  if (!before || !after || after[1] <= before[1]) return Number.NaN;
  return (100 * (after[0] - before[0])) / (after[1] - before[1]);
}

const TIME = '/usr/bin/time';

/**
 * Run a command under `/usr/bin/time -v` and read wall time, CPU time (user+sys)
 * and peak RSS of the whole process tree, as the issue asks ("as /usr/bin/time -v reports it").
 */
export async function measure(argv: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Measurement> {
  if (!existsSync(TIME)) throw new Error(`${TIME} is missing: install Debian's "time" package (apt-get install -y time)`);
  const ticks = cpuTicks();
  const started = process.hrtime.bigint();
  const child = spawn(TIME, ['-v', ...argv], { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => { stdout += c; });
  child.stderr.on('data', (c) => { stderr += c; });
  const exitCode: number = await new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  const stealPct = stealBetween(ticks, cpuTicks());
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
    stealPct,
  };
}

export function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '—';
}

/**
 * `measure` run `times` times in a row: the run with the median wall time, with every run's wall
 * time, the highest peak RSS of all runs and the CPU steal over all of them. This machine is shared (CPU steal comes and goes),
 * so one run says little; a failed run stops at once.
 */
export async function measureRuns(
  argv: string[],
  times: number,
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<Measurement & { walls: number[] }> {
  const runs: Measurement[] = [];
  const ticks = cpuTicks();
  for (let i = 0; i < Math.max(1, times); i++) {
    const m = await measure(argv, opts);
    runs.push(m);
    if (m.exitCode !== 0) break;
  }
  const failed = runs.find((m) => m.exitCode !== 0);
  const byWall = [...runs].sort((a, b) => a.wallS - b.wallS);
  const median = failed ?? byWall[Math.floor((byWall.length - 1) / 2)]!;
  return {
    ...median,
    peakRssMiB: Math.max(...runs.map((m) => m.peakRssMiB)),
    walls: runs.map((m) => m.wallS),
    stealPct: stealBetween(ticks, cpuTicks()),
  };
}
