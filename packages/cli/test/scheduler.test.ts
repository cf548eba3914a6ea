import { createTestDatabase, type TestDatabase } from '@tally/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readSchedule, SCHEDULE_TABLE, type ScheduledCollector } from '../src/schedule-store.js';
import { dependencyOrder, type RunCollector, Scheduler } from '../src/scheduler.js';

let tdb: TestDatabase;
let db: pg.Client;

beforeAll(async () => {
  tdb = await createTestDatabase('cli_sched');
  db = await tdb.client();
});
afterAll(async () => {
  await tdb?.drop();
});
beforeEach(async () => {
  await db.query(`DROP TABLE IF EXISTS ${SCHEDULE_TABLE}`);
});

const hourly = (key: string, dependsOn: string[] = []): ScheduledCollector => ({ key, cron: '5 * * * *', dependsOn, enabled: true });

function harness(collectors: ScheduledCollector[], behave: (key: string, until: Date) => { watermark: Date; complete: boolean } | Error) {
  const calls: string[] = [];
  let clock = new Date('2024-03-11T07:05:00Z');
  const runCollector: RunCollector = async (key, until) => {
    calls.push(key);
    const r = behave(key, until);
    if (r instanceof Error) throw r;
    return r;
  };
  const scheduler = new Scheduler({
    db,
    collectors,
    runCollector,
    untilFor: (now) => new Date(now.getTime() - 10 * 60_000),
    leaseSeconds: 60,
    runner: 'test-runner',
    now: () => clock,
    lockKey: `sched-test-${Math.random()}`,
  });
  return { scheduler, calls, setClock: (iso: string) => (clock = new Date(iso)) };
}

const rowsByKey = async () => new Map(((await readSchedule(db)) ?? []).map((r) => [r.key, r]));

describe('dependencyOrder', () => {
  it('puts dependencies first and rejects cycles and unknown names', () => {
    expect(dependencyOrder([hourly('b', ['a']), hourly('a')]).map((c) => c.key)).toEqual(['a', 'b']);
    expect(() => dependencyOrder([hourly('a', ['b']), hourly('b', ['a'])])).toThrow(/cycle a → b → a/);
    expect(() => dependencyOrder([hourly('a', ['nope'])])).toThrow(/depends on nope/);
  });
});

describe('Scheduler', () => {
  it('runs due collectors in dependency order and records state in PostgreSQL', async () => {
    const h = harness([hourly('b', ['a']), hourly('a')], (_k, until) => ({ watermark: until, complete: true }));
    const { acquired, outcomes } = await h.scheduler.run(new AbortController().signal, { once: true });
    expect(acquired).toBe(true);
    expect(h.calls).toEqual(['a', 'b']);
    expect(outcomes.map((o) => o.outcome)).toEqual(['ran', 'ran']);
    const rows = await rowsByKey();
    expect(rows.get('b')).toMatchObject({ runState: 'READY', dataState: 'COMPLETE', lastError: '', consecutiveFailures: 0, runner: null });
    expect(rows.get('b')!.watermark!.toISOString()).toBe('2024-03-11T06:55:00.000Z');
    expect(rows.get('a')!.lastSuccessAt).toBeInstanceOf(Date);

    // Not due again until the next 5-past; then due once.
    h.setClock('2024-03-11T07:40:00Z');
    expect((await h.scheduler.tick()).map((o) => o.outcome)).toEqual(['not-due', 'not-due']);
    h.setClock('2024-03-11T09:30:00Z');
    expect((await h.scheduler.tick()).map((o) => o.outcome)).toEqual(['ran', 'ran']);
    expect(h.calls).toEqual(['a', 'b', 'a', 'b']);
  });

  it('blocks a collector whose dependency data is not complete for the window', async () => {
    const h = harness([hourly('a'), hourly('b', ['a'])], (k, until) =>
      k === 'a' ? { watermark: new Date(until.getTime() - 3_600_000), complete: false } : { watermark: until, complete: true },
    );
    await h.scheduler.prepare();
    const outcomes = await h.scheduler.tick();
    expect(outcomes[1]).toMatchObject({ key: 'b', outcome: 'blocked' });
    expect(h.calls).toEqual(['a']);
    const b = (await rowsByKey()).get('b')!;
    expect(b.runState).toBe('BLOCKED');
    expect(b.lastError).toBe('blocked: dependencies not complete: a (partial up to 2024-03-11T05:55:00.000Z)');
    expect(b.dataState).toBe('EMPTY');
  });

  it('runs a dependent collector up to its dependencies\' watermark when it is scheduled between their runs', async () => {
    const seen: string[] = [];
    const h = harness([{ key: 'a', cron: '0 * * * *', dependsOn: [], enabled: true }, { key: 'b', cron: '30 * * * *', dependsOn: ['a'], enabled: true }], (k, until) => {
      seen.push(`${k}<${until.toISOString().slice(11, 16)}`);
      return { watermark: until, complete: true };
    });
    await h.scheduler.prepare();
    h.setClock('2024-03-11T07:00:00Z');
    await h.scheduler.tick(); // both never ran: a to 06:50, then b to 06:50
    h.setClock('2024-03-11T07:30:00Z');
    const blocked = await h.scheduler.tick(); // b is due, but a has nothing beyond 06:50 yet
    expect(blocked[1]).toMatchObject({ key: 'b', outcome: 'blocked' });
    expect((await rowsByKey()).get('b')!.lastError).toMatch(/not complete beyond 2024-03-11T06:50:00.000Z: a up to 2024-03-11T06:50/);
    h.setClock('2024-03-11T08:00:00Z');
    await h.scheduler.tick(); // a to 07:50; b not due
    h.setClock('2024-03-11T08:30:00Z');
    await h.scheduler.tick(); // b catches up to a's 07:50, not to 08:20
    expect(seen).toEqual(['a<06:50', 'b<06:50', 'a<07:50', 'b<07:50']);
    expect((await rowsByKey()).get('b')).toMatchObject({ runState: 'READY', lastError: '', dataState: 'COMPLETE' });
  });

  it('records failures, counts consecutive ones, and clears them on success', async () => {
    let fail = true;
    const h = harness([hourly('a'), hourly('b', ['a'])], (_k, until) => (fail ? new Error('relation "main_jobhostsummary" does not exist') : { watermark: until, complete: true }));
    await h.scheduler.prepare();
    expect((await h.scheduler.tick()).map((o) => o.outcome)).toEqual(['failed', 'blocked']);
    h.setClock('2024-03-11T08:05:00Z');
    await h.scheduler.tick();
    let a = (await rowsByKey()).get('a')!;
    expect(a).toMatchObject({ runState: 'READY', consecutiveFailures: 2, lastError: 'relation "main_jobhostsummary" does not exist', dataState: 'EMPTY' });
    fail = false;
    h.setClock('2024-03-11T09:05:00Z');
    expect((await h.scheduler.tick()).map((o) => o.outcome)).toEqual(['ran', 'ran']);
    a = (await rowsByKey()).get('a')!;
    expect(a).toMatchObject({ consecutiveFailures: 0, lastError: '', dataState: 'COMPLETE' });
  });

  it('takes over a collector left RUNNING by a crashed runner once its lease expired, not before', async () => {
    const h = harness([hourly('a')], (_k, until) => ({ watermark: until, complete: true }));
    await h.scheduler.prepare();
    await db.query(`UPDATE ${SCHEDULE_TABLE} SET run_state = 'RUNNING', runner = 'alive', lease_until = now() + interval '5 minutes'`);
    expect(await h.scheduler.tick()).toEqual([{ key: 'a', outcome: 'busy' }]);
    expect(h.calls).toEqual([]);
    await db.query(`UPDATE ${SCHEDULE_TABLE} SET runner = 'crashed', lease_until = now() - interval '1 second'`);
    expect((await h.scheduler.tick())[0]!.outcome).toBe('ran');
    expect((await rowsByKey()).get('a')).toMatchObject({ runState: 'READY', runner: null });
  });

  it('keeps one runner per cluster: without the advisory lock it runs nothing', async () => {
    const h = harness([hourly('a')], (_k, until) => ({ watermark: until, complete: true }));
    const other = await tdb.client();
    await other.query('SELECT pg_advisory_lock(hashtext($1)::bigint)', [h.scheduler.lockKey]);
    const { acquired, outcomes } = await h.scheduler.run(new AbortController().signal, { once: true });
    expect(acquired).toBe(false);
    expect(outcomes).toEqual([]);
    expect(h.calls).toEqual([]);
    await other.query('SELECT pg_advisory_unlock(hashtext($1)::bigint)', [h.scheduler.lockKey]);
    expect((await h.scheduler.run(new AbortController().signal, { once: true })).acquired).toBe(true);
    expect(h.calls).toEqual(['a']);
  });

  it('refreshes a changed declaration (cron, dependencies, enabled) on start', async () => {
    const h1 = harness([hourly('a')], (_k, until) => ({ watermark: until, complete: true }));
    await h1.scheduler.prepare();
    const h2 = harness([{ key: 'a', cron: '0 3 * * *', dependsOn: [], enabled: false }], (_k, until) => ({ watermark: until, complete: true }));
    await h2.scheduler.prepare();
    expect((await rowsByKey()).get('a')).toMatchObject({ cron: '0 3 * * *', enabled: false });
    expect(await h2.scheduler.tick()).toEqual([{ key: 'a', outcome: 'disabled' }]);
  });

  it('runs until aborted; a standby runner takes over the lock when the first one stops', async () => {
    const lockKey = `sched-standby-${Math.random()}`;
    const calls: string[] = [];
    const make = (runner: string) =>
      new Scheduler({
        db: runner === 'one' ? db : standbyDb,
        collectors: [hourly('a')],
        runCollector: async (key, until) => {
          calls.push(`${runner}:${key}`);
          return { watermark: until, complete: true };
        },
        untilFor: (now) => now,
        runner,
        lockKey,
      });
    const standbyDb = await tdb.client();
    const first = new AbortController();
    const one = make('one').run(first.signal);
    while (calls.length < 1) await new Promise((r) => setTimeout(r, 20));
    const second = new AbortController();
    const two = make('two').run(second.signal, { standbyMs: 50 });
    await new Promise((r) => setTimeout(r, 200));
    expect(calls).toEqual(['one:a']); // the standby did not run anything while the lock was held
    first.abort();
    expect((await one).acquired).toBe(true);
    // The standby takes the lock ('a' already ran this hour, so it is not due again).
    const observer = await tdb.client();
    const tryLock = async () => {
      const { rows } = await observer.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)::bigint) AS ok', [lockKey]);
      if (rows[0]!.ok) await observer.query('SELECT pg_advisory_unlock(hashtext($1)::bigint)', [lockKey]);
      return rows[0]!.ok;
    };
    let held = false;
    for (let i = 0; i < 50 && !held; i++) {
      await new Promise((r) => setTimeout(r, 50));
      held = !(await tryLock());
    }
    expect(held).toBe(true);
    expect((await rowsByKey()).get('a')!.runState).toBe('READY');
    second.abort();
    expect((await two).acquired).toBe(true);
    expect(await tryLock()).toBe(true); // released on stop
    expect(calls).toEqual(['one:a']);
  });

  it('survives a lost connection: reconnects, records the run it cut off, takes the lock again and goes on', async () => {
    const lockKey = `sched-reconnect-${Math.random()}`;
    const calls: string[] = [];
    const logs: string[] = [];
    let clock = new Date('2024-03-11T07:05:00Z');
    const open = async () => {
      const c = await tdb.client();
      // The server ending the session must not crash the process (as connectDatabase does).
      c.on('error', () => {});
      return c;
    };
    const first = await open();
    let reconnects = 0;
    const log = (m: string) => logs.push(m);
    const logger = { debug() {}, info: log, warn: log, error: log, child: () => logger };
    const scheduler = new Scheduler({
      db: first,
      reconnect: async () => {
        reconnects += 1;
        return open();
      },
      reconnectDelayMs: 20,
      collectors: [hourly('a')],
      runCollector: async (key, until) => {
        calls.push(`${key}@${until.toISOString()}`);
        // The first run loses the scheduler's connection (a server restart, a failover) before it ends.
        if (calls.length === 1) await db.query('SELECT pg_terminate_backend($1)', [(first as unknown as { processID: number }).processID]);
        return { watermark: until, complete: true };
      },
      untilFor: (now) => new Date(now.getTime() - 10 * 60_000),
      runner: 'reconnecting',
      lockKey,
      logger,
      now: () => clock,
    });
    const waitFor = async (what: () => boolean | Promise<boolean>) => {
      for (let i = 0; i < 200 && !(await what()); i++) await new Promise((r) => setTimeout(r, 25));
      expect(await what()).toBe(true);
    };
    const tryLock = async () => {
      const { rows } = await db.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)::bigint) AS ok', [lockKey]);
      if (rows[0]!.ok) await db.query('SELECT pg_advisory_unlock(hashtext($1)::bigint)', [lockKey]);
      return rows[0]!.ok;
    };
    const ac = new AbortController();
    const running = scheduler.run(ac.signal, { tickMs: 50 });
    await waitFor(() => logs.includes('reconnected to the database'));
    expect(logs).toContain('lost the database connection; reconnecting');
    // The cut-off run is recorded once reconnected, and not run again within its hour.
    await waitFor(async () => (await rowsByKey()).get('a')?.runState === 'READY');
    expect((await rowsByKey()).get('a')).toMatchObject({ watermark: new Date('2024-03-11T06:55:00Z'), dataState: 'COMPLETE', consecutiveFailures: 0 });
    expect(calls).toEqual(['a@2024-03-11T06:55:00.000Z']);
    await waitFor(async () => !(await tryLock())); // the lock is held again, by the new session
    clock = new Date('2024-03-11T08:05:00Z');
    await waitFor(() => calls.length === 2);
    expect(calls[1]).toBe('a@2024-03-11T07:55:00.000Z');
    expect(reconnects).toBe(1);
    ac.abort();
    expect((await running).acquired).toBe(true);
    expect(await tryLock()).toBe(true);
    await scheduler.connection.end?.();
  });

  it('without reconnect, a lost connection ends run() with the error', async () => {
    const c = await tdb.client();
    c.on('error', () => {});
    const scheduler = new Scheduler({
      db: c,
      collectors: [hourly('a')],
      runCollector: async (_key, until) => {
        await db.query('SELECT pg_terminate_backend($1)', [(c as unknown as { processID: number }).processID]);
        return { watermark: until, complete: true };
      },
      untilFor: (now) => now,
      lockKey: `sched-noreconnect-${Math.random()}`,
    });
    await expect(scheduler.run(new AbortController().signal, { tickMs: 50 })).rejects.toThrow(/terminat|Connection/i);
  });
});
