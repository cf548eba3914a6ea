import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { tally } from './support/run-tally.ts';

// `tally demo` on a machine without a database server: embedded PGlite over a
// loopback socket, seeded, gathered, rolled up and reported. Two days keep it quick.
const dir = mkdtempSync(join(tmpdir(), 'tally-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('runs the whole pipeline on an embedded PostgreSQL and prints where every artifact is', { timeout: 150_000 }, async () => {
  const r = await tally(['demo', '--dir', dir, '--days', '2'], {}, 140_000);
  expect(r.code, r.stderr.slice(-2000)).toBe(0);
  expect(r.stdout).toMatch(/Tally demo finished in [\d.]+s\. Artifacts in /);
  const reports = r.stdout.split('\n').filter((l) => l.trim().startsWith('report '));
  expect(reports).toHaveLength(2);
  for (const line of reports) expect(existsSync(line.trim().replace(/^report\s+/, ''))).toBe(true);
  expect(reports.join('\n')).toMatch(/CCSPv2-\d{4}-\d{2}-\d{2}--\d{4}-\d{2}-\d{2}\.xlsx/);
  expect(reports.join('\n')).toMatch(/RENEWAL_GUIDANCE-/);
  const tarballs = readdirSync(join(dir, 'data'), { recursive: true }).filter((f) => String(f).endsWith('.tar.gz'));
  expect(tarballs.length).toBeGreaterThanOrEqual(4);
  expect(readdirSync(join(dir, 'rollups'), { recursive: true }).some((f) => String(f).endsWith('.parquet'))).toBe(true);
  // A second run into the same directory starts clean instead of mixing runs.
  expect(existsSync(join(dir, '.tally-demo'))).toBe(true);
});
