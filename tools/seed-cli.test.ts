import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, type TestDatabase } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase('seedcli');
});
afterAll(async () => {
  await tdb?.drop();
});

function seed(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'tools/seed.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('pnpm tools:seed', () => {
  it('creates the schema, seeds, prints a JSON summary, and refuses to seed twice without --reset', () => {
    const args = ['--db', tdb.url, '--days', '2', '--jobs-per-day', '5', '--hosts', '20', '--orgs', '1', '--seed', '4', '--end', '2024-03-11T00:00:00Z'];
    const first = seed(...args);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout);
    expect(summary).toMatchObject({ since: '2024-03-09T00:00:00.000Z', until: '2024-03-11T00:00:00.000Z', jobs: 10, hosts: 20, organizations: 1 });
    const again = seed(...args);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already holds jobs; pass --reset/);
    const reset = seed(...args, '--reset');
    expect(reset.code).toBe(0);
    expect(JSON.parse(reset.stdout).jobHostSummaries).toBe(summary.jobHostSummaries);
  });

  it('exits 2 with the usage on bad arguments', () => {
    const bad = seed('--db', tdb.url, '--days', 'x');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--days: expected a whole number/);
    expect(bad.stderr).toMatch(/usage: pnpm tools:seed/);
    expect(seed('--nope').code).toBe(2);
  });
});
