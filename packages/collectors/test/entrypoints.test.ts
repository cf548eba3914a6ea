import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EntrypointArgs, loadEntrypoint } from '@tally/collectors';
import { highestPlaceholder } from '../src/entrypoints/sql.js';
import { rangeWindows, stepMs } from '../src/entrypoints/prometheus-range.js';
import { resolvePackage } from '../src/entrypoints/load.js';
import { silentLogger } from '@tally/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tally-entry-'));
  const pkg = join(dir, 'node_modules', '@acme', 'feeds');
  mkdirSync(join(pkg, 'dist'), { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: '@acme/feeds', exports: { '.': { require: './dist/a.cjs', import: './dist/a.mjs' }, './jobs': './dist/jobs.mjs' } }));
  writeFileSync(join(pkg, 'dist', 'a.mjs'), 'export const main = () => [{ a: 1 }];\n');
  writeFileSync(join(pkg, 'dist', 'jobs.mjs'), 'export function main() { return [{ ok: 1 }, [2], null]; }\n');
  writeFileSync(join(dir, 'nothing.mjs'), 'export const x = 1;\n');
  writeFileSync(join(dir, 'broken.mjs'), 'export const = ;\n');
  mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const args: EntrypointArgs = { credentials: {}, dataSet: { 'data-group': 'g', 'data-set': 's' }, query: null, options: {}, store: () => {}, logger: silentLogger };
const all = async (it: AsyncIterable<unknown>) => {
  const out: unknown[] = [];
  for await (const r of it) out.push(r);
  return out;
};

describe('entrypoints', () => {
  it('finds $N placeholders only outside literals, identifiers, dollar quotes and comments', () => {
    expect(highestPlaceholder('SELECT * FROM t WHERE a >= $1 AND a < $2')).toBe(2);
    expect(highestPlaceholder("SELECT '$3', \"$4\", $$ $5 $$, $tag$ $6 $tag$ -- $7\n/* $8 */ FROM t WHERE x = $1")).toBe(1);
    expect(highestPlaceholder('SELECT a$1 FROM t')).toBe(0);
    expect(highestPlaceholder("SELECT 'it''s' || $2")).toBe(2);
  });

  it('splits a long range into aligned windows under the point limit, ending before until', () => {
    expect(stepMs('5m')).toBe(300_000);
    expect(stepMs(15)).toBe(15_000);
    expect(() => stepMs('often')).toThrow(/step "often" is not a duration/);
    const since = new Date('2024-01-01T00:00:00Z');
    const w = rangeWindows(since, new Date('2024-01-01T05:00:00Z'), 1000);
    expect(w).toHaveLength(2);
    expect(w[0]).toEqual({ start: since.getTime(), end: since.getTime() + 9_999_000 });
    expect(w[1]).toEqual({ start: since.getTime() + 10_000_000, end: Date.parse('2024-01-01T05:00:00Z') - 1 });
  });

  it('resolves a package through its exports (import condition, subpaths) from a nested folder', async () => {
    expect(resolvePackage('@acme/feeds', join(dir, 'sub', 'deeper'))).toBe(join(dir, 'node_modules', '@acme', 'feeds', 'dist', 'a.mjs'));
    expect(resolvePackage('@acme/feeds/jobs', dir)).toBe(join(dir, 'node_modules', '@acme', 'feeds', 'dist', 'jobs.mjs'));
    expect(() => resolvePackage('@acme/feeds/nope', dir)).toThrow(/exports no "\.\/nope"/);
    expect(() => resolvePackage('../escape', dir)).toThrow(/neither a path/);
    expect(await all((await loadEntrypoint('@acme/feeds', join(dir, 'sub'))).run(args))).toEqual([{ a: 1 }]);
  });

  it('refuses records that are not objects, naming the record, and modules without an entrypoint', async () => {
    const jobs = await loadEntrypoint('@acme/feeds/jobs', dir);
    await expect(all(jobs.run(args))).rejects.toThrow(/@acme\/feeds\/jobs: record 2 is not a JSON object \(got an array\)/);
    await expect(loadEntrypoint('./nothing.mjs', dir)).rejects.toThrow(/exports neither main\(…\) nor a defineCollector collector/);
    await expect(loadEntrypoint('./broken.mjs', dir)).rejects.toThrow(/entrypoint "\.\/broken\.mjs": loading .*broken\.mjs failed/);
    await expect(loadEntrypoint('./missing.mjs', dir)).rejects.toThrow(/missing\.mjs does not exist/);
  });
});
