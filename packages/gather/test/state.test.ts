import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessError, ConfigError, exitCodeOf } from '@tally/core';
import { JsonFileStateStore, PostgresStateStore, readCollectorStatus, type StateStore } from '@tally/gather';
import { createTestDatabase, type TestDatabase } from '@tally/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let tdb: TestDatabase;
let dir: string;
beforeAll(async () => {
  tdb = await createTestDatabase('gather_state');
  dir = await mkdtemp(join(tmpdir(), 'tally-state-test-'));
});
afterAll(async () => {
  await tdb.drop();
  await rm(dir, { recursive: true, force: true });
});

const t1 = new Date('2024-03-01T00:00:00Z');
const t2 = new Date('2024-03-02T00:00:00Z');

async function contract(store: StateStore) {
  await store.init();
  expect(await store.watermarks()).toEqual(new Map());
  await store.advance(new Map([['a', t2], ['b', t1]]));
  await store.advance(new Map([['a', t1]])); // never backwards
  expect(await store.watermarks()).toEqual(new Map([['a', t2], ['b', t1]]));
  await store.recordRun('a', { at: t1, ok: false, error: 'first' });
  await store.recordRun('a', { at: t2, ok: false, error: 'second' });
  let a = (await readCollectorStatus(store)).find((s) => s.key === 'a')!;
  expect(a).toEqual({ key: 'a', watermark: t2, lastRunAt: t2, lastErrorAt: t2, lastError: 'second', consecutiveFailures: 2 });
  await store.recordRun('a', { at: t2, ok: true });
  a = (await readCollectorStatus(store)).find((s) => s.key === 'a')!;
  expect(a.consecutiveFailures).toBe(0);
  expect(a.lastSuccessAt).toEqual(t2);
  expect(a.lastError).toBe('second'); // the last error stays visible after a success
  expect((await readCollectorStatus(store)).map((s) => s.key)).toEqual(['a', 'b']);
}

describe('PostgresStateStore', () => {
  it('creates its table when missing and keeps the store contract', async () => {
    const db = await tdb.client();
    await contract(new PostgresStateStore(db, { table: 'wm' }));
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'wm'`);
    expect(rows[0].n).toBe(1);
  });

  it('survives two first runs creating the table at once, and refuses a non-identifier table name', async () => {
    const [a, b] = [await tdb.client(), await tdb.client()];
    await Promise.all([new PostgresStateStore(a, { table: 'race' }).init(), new PostgresStateStore(b, { table: 'race' }).init()]);
    expect(() => new PostgresStateStore(a, { table: 'x; DROP TABLE wm' })).toThrow(ConfigError);
  });

  it('reads a missing table as empty without creating it; a refused read or write is one line naming table and operation', async () => {
    const owner = await tdb.client();
    const role = `tally_state_ro_${Date.now().toString(36)}`;
    await owner.query(`CREATE ROLE ${role} LOGIN`);
    try {
      await owner.query(`GRANT CONNECT ON DATABASE "${tdb.name}" TO ${role}; GRANT USAGE ON SCHEMA public TO ${role}; REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
      const u = new URL(tdb.url);
      u.username = role;
      const ro = new pg.Client({ connectionString: u.toString() });
      await ro.connect();
      try {
        const opts = { table: 'guarded', where: 'the test database', elsewhere: 'use another store' };
        const store = new PostgresStateStore(ro, opts);
        expect(await store.watermarks()).toEqual(new Map());
        expect(await store.statuses()).toEqual([]);
        await expect(store.init()).rejects.toThrow(
          /^cannot create table guarded in the test database \(permission denied for schema public\); give the role CREATE there or use another store$/,
        );
        await new PostgresStateStore(owner, opts).init();
        await expect(store.watermarks()).rejects.toThrow(
          /^cannot read table guarded in the test database \(permission denied for table guarded\); GRANT SELECT on it to the role or use another store$/,
        );
        await owner.query(`GRANT SELECT ON guarded TO ${role}`);
        expect(await store.watermarks()).toEqual(new Map());
        const err = await store.advance(new Map([['a', t1]])).catch((e) => e);
        expect(err).toBeInstanceOf(AccessError);
        expect(err.message).toBe(
          'cannot write table guarded in the test database (permission denied for table guarded); GRANT SELECT, INSERT, UPDATE on it to the role or use another store',
        );
        expect(exitCodeOf(err)).toBe(1);
      } finally {
        await ro.end();
      }
    } finally {
      await owner.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });
});

describe('JsonFileStateStore', () => {
  it('keeps the store contract in a JSON file, written atomically', async () => {
    const path = join(dir, 'nested', 'state.json');
    await contract(new JsonFileStateStore(path));
    const doc = JSON.parse(await readFile(path, 'utf8'));
    expect(doc.collectors.a.watermark).toBe(t2.toISOString());
    // Another store instance (a later run) sees the same state.
    expect((await new JsonFileStateStore(path).watermarks()).get('b')).toEqual(t1);
  });

  it('serialises concurrent updates in one process and rejects a foreign file clearly', async () => {
    const path = join(dir, 'concurrent.json');
    const s = new JsonFileStateStore(path);
    await Promise.all(Array.from({ length: 20 }, (_, i) => s.recordRun(`k${i}`, { at: t1, ok: true })));
    expect((await s.statuses()).length).toBe(20);
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '[1,2');
    await expect(new JsonFileStateStore(bad).watermarks()).rejects.toThrow(/bad.json is not a Tally state file/);
  });
});
