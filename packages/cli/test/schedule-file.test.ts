import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '@tally/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileScheduleStore } from '../src/schedule-file.js';
import { postgresScheduleStore, SCHEDULE_TABLE, type ScheduleStore } from '../src/schedule-store.js';

let tdb: TestDatabase;
let db: pg.Client;
const dir = mkdtempSync(join(tmpdir(), 'tally-sched-file-'));

beforeAll(async () => {
  tdb = await createTestDatabase('cli_sched_file');
  db = await tdb.client();
});
afterAll(async () => {
  await tdb?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const W1 = new Date('2024-03-11T06:00:00Z');
const W2 = new Date('2024-03-11T07:00:00Z');

/** The rules the scheduler relies on; the file must keep them exactly as the table does. */
async function contract(store: ScheduleStore): Promise<void> {
  expect(await store.read()).toBeUndefined();
  await store.ensure();
  expect(await store.read()).toEqual([]);
  await store.declare([
    { key: 'b', cron: '5 * * * *', dependsOn: ['a'], enabled: true },
    { key: 'a', cron: '5 * * * *', dependsOn: [], enabled: true },
    { key: 'off', cron: '5 * * * *', dependsOn: [], enabled: false },
  ]);
  expect((await store.read())!.map((r) => [r.key, r.runState, r.dataState])).toEqual([
    ['a', 'PENDING', 'EMPTY'],
    ['b', 'PENDING', 'EMPTY'],
    ['off', 'PENDING', 'EMPTY'],
  ]);
  expect(await store.claim('off', 'r1', 60)).toBeUndefined();
  expect(await store.claim('nope', 'r1', 60)).toBeUndefined();

  // A live lease keeps others out; its own runner may claim again; an expired one is taken over.
  expect(await store.claim('a', 'r1', 300)).toMatchObject({ key: 'a', runState: 'RUNNING', runner: 'r1' });
  expect(await store.claim('a', 'r2', 300)).toBeUndefined();
  expect(await store.claim('a', 'r1', -1)).toMatchObject({ runner: 'r1' });
  expect(await store.heartbeat('a', 'r2', 300)).toBe(false);
  expect(await store.claim('a', 'r2', 300)).toMatchObject({ runner: 'r2' });
  expect(await store.heartbeat('a', 'r2', 300)).toBe(true);

  // Only the holder records; the watermark never moves back.
  await store.markSucceeded('a', 'r1', { watermark: W2, complete: true });
  expect((await store.read())!.find((r) => r.key === 'a')).toMatchObject({ runState: 'RUNNING', watermark: null });
  await store.markStarted('a', 'r2', W1);
  await store.markSucceeded('a', 'r2', { watermark: W2, complete: true });
  await store.claim('a', 'r2', 300);
  await store.markSucceeded('a', 'r2', { watermark: W1, complete: false });
  const a = (await store.read())!.find((r) => r.key === 'a')!;
  expect(a).toMatchObject({ runState: 'READY', dataState: 'PARTIAL', runner: null, leaseUntil: null, lastError: '', consecutiveFailures: 0 });
  expect(a.watermark?.toISOString()).toBe(W2.toISOString());
  expect(a.lastRunAt?.toISOString()).toBe(W1.toISOString());
  expect(a.lastSuccessAt).toBeInstanceOf(Date);

  await store.claim('b', 'r2', 300);
  await store.markFailed('b', 'r2', 'boom');
  await store.claim('b', 'r2', 300);
  await store.markFailed('b', 'r2', 'boom again');
  expect((await store.read())!.find((r) => r.key === 'b')).toMatchObject({ runState: 'READY', lastError: 'boom again', consecutiveFailures: 2 });
  await store.claim('b', 'r2', 300);
  await store.markBlocked('b', 'r2', 'blocked: a', W2);
  const b = (await store.read())!.find((r) => r.key === 'b')!;
  expect(b).toMatchObject({ runState: 'BLOCKED', runner: null, lastError: 'blocked: a' });
  expect(b.lastRunAt?.toISOString()).toBe(W2.toISOString());

  // A new declaration refreshes cron, dependencies and enabled, and keeps the run and data state.
  await store.declare([{ key: 'a', cron: '0 3 * * *', dependsOn: [], enabled: false }]);
  expect((await store.read())!.find((r) => r.key === 'a')).toMatchObject({ cron: '0 3 * * *', enabled: false, dataState: 'PARTIAL', runState: 'READY' });
}

describe('schedule state', () => {
  it('in PostgreSQL (the reference for the rules)', async () => {
    await db.query(`DROP TABLE IF EXISTS ${SCHEDULE_TABLE}`);
    await contract(postgresScheduleStore(db));
  });

  it('in a file, with the same rules', async () => {
    await contract(new FileScheduleStore(join(dir, 'nested', 'state.json.schedule.json')));
  });
});
