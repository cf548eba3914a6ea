import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

// The benchmark at a few thousand rows, so it never rots: every stage must run and produce its artifact.
describe('pnpm bench --smoke', () => {
  it('runs every stage beside its floor', () => {
    const r = spawnSync('node', ['--import', 'tsx', 'tools/bench/run.ts', '--smoke'], { cwd: root, encoding: 'utf8', timeout: 240_000 });
    expect(r.stderr + r.stdout).toContain('bench: 13 stages ran');
    expect(r.status).toBe(0);
    const stages = ['gather', 'package', 'package, large', 'rollup', 'rollup, day', 'CCSPv2', 'CCSPv2-rollups', 'CCSPv2 with events', 'CCSPv2 with events, rollups', 'renewal', 'renewal dedup', 'renewal dedup, dense', 'ccsp-experimental'];
    for (const stage of stages) expect(r.stdout).toContain(`| ${stage} |`);
    // stages with a wall-time target run repeatedly (twice when smoke-testing); the table shows the median run
    // and the CPU steal meanwhile (this machine is shared)
    for (const stage of ['rollup', 'rollup, day', 'CCSPv2', 'CCSPv2-rollups', 'CCSPv2 with events', 'CCSPv2 with events, rollups', 'renewal', 'renewal dedup', 'renewal dedup, dense', 'ccsp-experimental']) expect(r.stdout).toMatch(new RegExp(`\\| ${stage} \\| [^|]*; median of 2 runs \\([\\d.]+–[\\d.]+ s\\); CPU steal \\d+ % \\|`));
    // every stage row carries a floor measurement
    const stageRows = r.stdout.split('\n').filter((l) => new RegExp(`^\\| (${stages.join('|')}) \\|`).test(l));
    for (const row of stageRows) expect(row.split(/(?<!\\)\|/).map((c) => c.trim())[7]).toMatch(/^\d+\.\d+$/);
  }, 300_000);
});
