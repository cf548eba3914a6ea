import { createTestDatabase, type TestDatabase } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lock, withLock } from '@tally/core';
import type pg from 'pg';

let db: TestDatabase;
let a: pg.Client;
let b: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase('core_lock');
  a = await db.client();
  b = await db.client();
});
afterAll(async () => db.drop());

describe('advisory lock on two real connections', () => {
  it('the try form returns false at once while another connection holds the lock', async () => {
    await withLock(a, 'tally_gather', async (gotA) => {
      expect(gotA).toBe(true);
      const started = Date.now();
      await withLock(b, 'tally_gather', async (gotB) => {
        expect(gotB).toBe(false);
      });
      expect(Date.now() - started).toBeLessThan(1000);
      // other keys are independent
      await withLock(b, 'another_key', async (gotOther) => expect(gotOther).toBe(true));
    });
    // released afterwards: b can now take it
    await withLock(b, 'tally_gather', async (got) => expect(got).toBe(true));
  });

  it('is released when the callback throws', async () => {
    await expect(withLock(a, 'k1', async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    await withLock(b, 'k1', async (got) => expect(got).toBe(true));
  });

  it('the waiting form blocks until the holder releases', async () => {
    const held = await lock(a, 'k2');
    expect(held).toBeDefined();
    let acquiredAt = 0;
    const waiter = withLock(b, 'k2', async (got) => { acquiredAt = Date.now(); return got; }, { wait: true });
    await new Promise((r) => setTimeout(r, 300));
    expect(acquiredAt).toBe(0);
    const releasedAt = Date.now();
    await held!.release();
    expect(await waiter).toBe(true);
    expect(acquiredAt).toBeGreaterThanOrEqual(releasedAt);
  });

  it('binds the key as a parameter (no SQL injection through the key)', async () => {
    const key = "x'); SELECT pg_sleep(10); --";
    await withLock(a, key, async (got) => expect(got).toBe(true));
    const { rows } = await a.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()");
    expect(rows[0].n).toBe(0);
    await expect(withLock(a, '', async () => 1)).rejects.toThrow(/Cannot use/);
  });

  it('lock() returns undefined when held elsewhere and disposes', async () => {
    {
      await using h = await lock(a, 'k3');
      expect(h).toBeDefined();
      expect(await lock(b, 'k3')).toBeUndefined();
    }
    const again = await lock(b, 'k3');
    expect(again).toBeDefined();
    await again!.release();
  });
});
