import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { packTarball } from '@tally/testkit';
import { GOOD_JHS, HOSTILE_JHS } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../src/main.js';

let ship: string;
const BAD = `data/2024/03/06/b-bad.tar.gz`;
const hostile = HOSTILE_JHS.find((c) => c.name.startsWith('unterminated quote in a middle row'))!;

beforeAll(async () => {
  ship = mkdtempSync(join(tmpdir(), 'tally-cli-hostile-'));
  await packTarball(join(ship, 'data/2024/03/06/a-good.tar.gz'), [{ name: 'job_host_summary.csv', content: GOOD_JHS }]);
  await packTarball(join(ship, BAD), [{ name: 'job_host_summary.csv', content: hostile.csv }]);
});
afterAll(() => rmSync(ship, { recursive: true, force: true }));

async function cli(argv: string[]) {
  const out = new PassThrough();
  const err = new PassThrough();
  let stderr = '';
  out.resume();
  err.on('data', (b) => (stderr += b));
  const env = {
    METRICS_UTILITY_SHIP_TARGET: 'directory',
    METRICS_UTILITY_SHIP_PATH: ship,
    METRICS_UTILITY_REPORT_TYPE: 'CCSPv2',
    METRICS_UTILITY_PRICE_PER_NODE: '10',
  };
  const code = await run(argv, { stdout: out, stderr: err, env, cwd: ship });
  return { code, stderr };
}

describe('a tarball with a malformed CSV', () => {
  for (const argv of [
    ['report', '--month', '2024-03'],
    ['rollup', '--since', '2024-03-01', '--until', '2024-04-01', '--period', 'month'],
  ]) {
    it(`is named on stderr by \`tally ${argv[0]}\` with its member, line and reason`, async () => {
      const r = await cli(argv);
      expect(r.code).toBe(0);
      const lines = r.stderr.split('\n').filter((l) => l.includes(BAD));
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        expect(line).toContain('job_host_summary.csv');
        expect(line).toContain(`line ${hostile.line}`);
        expect(line).toMatch(/unterminated quote/);
      }
    });
  }
});
