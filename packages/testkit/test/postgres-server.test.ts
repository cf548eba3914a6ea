import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createTestDatabase, findOrStartPostgres } from '@tally/testkit';

const hasInitdb = (() => {
  try {
    execFileSync('sh', ['-c', 'ls /usr/lib/postgresql/*/bin/initdb'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('testkit PostgreSQL', () => {
  it('gives each test file its own database and drops it', async () => {
    const db = await createTestDatabase('kit');
    const c = await db.client();
    await c.query('CREATE TABLE t (x int)');
    const { rows } = await c.query('SELECT current_database() AS name');
    expect(rows[0].name).toBe(db.name);
    await db.drop();
    const admin = new pg.Client({ connectionString: process.env.TALLY_TEST_PG_ADMIN_URL });
    await admin.connect();
    const left = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [db.name]);
    await admin.end();
    expect(left.rowCount).toBe(0);
  });

  // The throwaway path is what a machine without a running server uses; prove it works here too.
  it.runIf(hasInitdb)('starts and stops a throwaway initdb cluster on a loopback port', async () => {
    const prev = process.env.TALLY_TEST_PG;
    process.env.TALLY_TEST_PG = 'throwaway';
    try {
      const server = await findOrStartPostgres();
      expect(server.kind).toBe('throwaway');
      expect(server.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
      const c = new pg.Client({ connectionString: server.url });
      await c.connect();
      const { rows } = await c.query('SELECT 40 + 2 AS n');
      await c.end();
      expect(rows[0].n).toBe(42);
      await server.stop();
      const after = new pg.Client({ connectionString: server.url, connectionTimeoutMillis: 1000 });
      await expect(after.connect()).rejects.toThrow();
    } finally {
      if (prev === undefined) delete process.env.TALLY_TEST_PG;
      else process.env.TALLY_TEST_PG = prev;
    }
  });
});
