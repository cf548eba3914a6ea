import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDuckDb } from '@tally/dataframes';
import { metricsUtilityTarballs } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
let ship: string;
beforeAll(() => {
  ship = mkdtempSync(join(tmpdir(), 'tally-rollup-cli-'));
  cpSync(join(metricsUtilityTarballs().base, 'data'), join(ship, 'data'), { recursive: true });
});
afterAll(() => rmSync(ship, { recursive: true, force: true }));

function rollup(...args: string[]) {
  // Log lines (JSON on stderr) are tested elsewhere; here stderr is the tool's own report.
  const env = { ...process.env, TALLY_LOG_LEVEL: 'error' };
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'tools/rollup.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 120_000, env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function parquetRows(path: string): Promise<number> {
  const db = await openDuckDb();
  try {
    const [r] = await db.all<{ n: bigint }>('SELECT count(*) AS n FROM read_parquet($1)', [path]);
    return Number(r?.n);
  } finally {
    await db.close();
  }
}

describe('tools/rollup.ts', () => {
  it('rolls a fixture month up into Hive-partitioned Parquet and names what it wrote', async () => {
    const r = rollup('--ship-path', ship, '--since', '2024-03-01', '--until', '2024-04-01', '--kinds', 'job_host_summary');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [part, summary] = r.stdout.trim().split('\n');
    const [name, rows] = part!.split('\t');
    expect(name).toBe('rollups/job_host_summary/period=month/date=2024-03/part-0.parquet');
    expect(summary).toMatch(/^\d+ tarballs read, 1 parts written, 0 skipped$/);
    expect(await parquetRows(join(ship, name!))).toBe(Number(rows!.replace(' rows', '')));
  });

  it('names a bad tarball on stderr and exits 1; bad options are a usage error', () => {
    writeFileSync(join(ship, 'data/2024/03/05/broken.tar.gz'), 'not a tarball');
    const r = rollup('--ship-path', ship, '--since', '2024-03-01', '--until', '2024-04-01', '--kinds', 'job_host_summary');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^skipped data\/2024\/03\/05\/broken\.tar\.gz: /);
    const bad = rollup('--ship-path', ship, '--since', '2024-03-01', '--kinds', 'nope');
    expect(bad.stderr).toMatch(/--kinds: "nope" is not one of/);
    expect(bad.code).not.toBe(0);
  });
});
