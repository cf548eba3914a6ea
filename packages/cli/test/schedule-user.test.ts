import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@tally/core';
import { createTestDatabase, DataSetReceiver, type TestDatabase } from '@tally/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUserCollector } from '../src/schedule-command.js';
import { parseScheduleConfig } from '../src/schedule-config.js';
import { readSchedule } from '../src/schedule-store.js';
import { Scheduler } from '../src/scheduler.js';

// Two user collectors, the second depending on the first: a PARTIAL first one keeps the
// second waiting; a failed push moves no watermark; once complete, the dependent runs up to it.
let tdb: TestDatabase;
let db: pg.Client;
let dir: string;
let rx: DataSetReceiver;
const TOKEN = 'sched-user-token-66';

beforeAll(async () => {
  tdb = await createTestDatabase('cli_sched_user');
  db = await tdb.client();
  rx = await new DataSetReceiver(TOKEN).start();
  dir = mkdtempSync(join(tmpdir(), 'tally-sched-user-'));
  const w = (name: string, v: unknown) => writeFileSync(join(dir, name), typeof v === 'string' ? v : JSON.stringify(v));
  // Upstream reports progress in steps of one hour and says whether it reached until.
  w(
    'upstream.mjs',
    `export async function* main({ since, until, store }) {
  const end = new Date(Math.min(until.getTime(), since.getTime() + 3600000));
  yield { from: since.toISOString(), to: end.toISOString() };
  store({ updatedUntil: end, complete: end.getTime() === until.getTime() });
}\n`,
  );
  w('downstream.mjs', 'export function main({ since, until }) { return [{ from: since.toISOString(), to: until.toISOString() }]; }\n');
  w('target.json', { url: `${rx.url}/data` });
  w('token.json', { token: TOKEN });
  for (const n of ['upstream', 'downstream']) w(`${n}.query.json`, { entrypoint: `./${n}.mjs`, 'data-set': { 'data-group': 'g', 'data-set': n } });
});
afterAll(async () => {
  await rx?.stop();
  await tdb?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('scheduled user collectors', () => {
  it('report progress like OSIDB store(updated_until); dependents wait for complete data; a failed push moves nothing', async () => {
    const collectors = parseScheduleConfig(
      {
        collectors: {
          upstream: { cron: '* * * * *', query: 'upstream.query.json', target: 'target.json', token: 'token.json', since: '2024-03-11T00:00:00Z' },
          downstream: { cron: '* * * * *', dependsOn: ['upstream'], query: 'downstream.query.json', target: 'target.json', token: 'token.json', since: '2024-03-11T00:00:00Z' },
        },
      },
      'schedule.json',
      dir,
    );
    let clock = new Date('2024-03-11T02:10:00Z');
    const byKey = new Map(collectors.map((c) => [c.key, c]));
    const scheduler = new Scheduler({
      db,
      collectors,
      runner: 'test',
      lockKey: `user-sched-${Math.random()}`,
      now: () => clock,
      untilFor: (now) => new Date(now.getTime() - 10 * 60_000),
      runCollector: async (key, until, signal, watermark) => (await runUserCollector(byKey.get(key)!.collect!, until, watermark, signal, silentLogger)).result,
    });
    await scheduler.prepare();
    const state = async () => new Map(((await readSchedule(db)) ?? []).map((r) => [r.key, { data: r.dataState, run: r.runState, watermark: r.watermark?.toISOString() }]));

    // Tick 1 (until 02:00): upstream gets one hour, PARTIAL; downstream waits.
    expect((await scheduler.tick()).map((o) => `${o.key}:${o.outcome}`)).toEqual(['upstream:ran', 'downstream:blocked']);
    expect((await state()).get('upstream')).toEqual({ data: 'PARTIAL', run: 'READY', watermark: '2024-03-11T01:00:00.000Z' });
    expect((await state()).get('downstream')).toMatchObject({ data: 'EMPTY', run: 'BLOCKED' });

    // Tick 2: the data set refuses the chunk; the run fails and the watermark stays.
    clock = new Date('2024-03-11T02:11:00Z');
    rx.token = 'rotated';
    expect((await scheduler.tick()).map((o) => `${o.key}:${o.outcome}`)).toEqual(['upstream:failed', 'downstream:blocked']);
    expect((await state()).get('upstream')).toMatchObject({ data: 'PARTIAL', watermark: '2024-03-11T01:00:00.000Z' });
    rx.token = TOKEN;

    // Tick 3 (until 02:02): one more hour, still PARTIAL.
    clock = new Date('2024-03-11T02:12:00Z');
    expect((await scheduler.tick()).map((o) => `${o.key}:${o.outcome}`)).toEqual(['upstream:ran', 'downstream:blocked']);
    expect((await state()).get('upstream')).toMatchObject({ data: 'PARTIAL', watermark: '2024-03-11T02:00:00.000Z' });

    // Tick 4 (until 02:03): upstream reaches until, COMPLETE; downstream runs from its start up to upstream's watermark.
    clock = new Date('2024-03-11T02:13:00Z');
    expect((await scheduler.tick()).map((o) => `${o.key}:${o.outcome}`)).toEqual(['upstream:ran', 'downstream:ran']);
    const after = await state();
    expect(after.get('upstream')).toEqual({ data: 'COMPLETE', run: 'READY', watermark: '2024-03-11T02:03:00.000Z' });
    expect(after.get('downstream')).toEqual({ data: 'COMPLETE', run: 'READY', watermark: '2024-03-11T02:03:00.000Z' });
    const sent = rx.chunks.map((c) => `${c.path} ${c.records.map((r) => `${r.from}..${r.to}`).join(',')}`);
    expect(sent).toEqual([
      '/data/g/upstream 2024-03-11T00:00:00.000Z..2024-03-11T01:00:00.000Z',
      '/data/g/upstream 2024-03-11T01:00:00.000Z..2024-03-11T02:00:00.000Z',
      '/data/g/upstream 2024-03-11T02:00:00.000Z..2024-03-11T02:03:00.000Z',
      '/data/g/downstream 2024-03-11T00:00:00.000Z..2024-03-11T02:03:00.000Z',
    ]);
  });
});
