import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { executionEnvironments } from '@tally/collectors';
import { ConfigError, CollectorError, fileLock, type Logger } from '@tally/core';
import { gather, JsonFileStateStore, PostgresStateStore, readCollectorStatus, type StateStore } from '@tally/gather';
import { GATHER_LOCK, tarballIndex } from '../src/gather.js';
import { readTarballMembers } from '@tally/package';
import { DirectoryStorage, isStore, type Sink } from '@tally/storage';
import { createTestDatabase, type TestDatabase } from '@tally/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  assertTiles,
  configCollector,
  dailyCsv,
  FailingStorage,
  jsonCollector,
  makeCollector,
  readStored,
  shippedWindows,
} from './helpers.js';

let tdb: TestDatabase;
let db: pg.Client;
let root: string;
let base: string;
let storage: DirectoryStorage;
let tableN = 0;
let store: StateStore;

beforeAll(async () => {
  tdb = await createTestDatabase('gather');
  db = await tdb.client();
});
afterAll(async () => {
  await tdb.drop();
});
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tally-gather-test-'));
  base = join(root, 'ship');
  storage = new DirectoryStorage({ base });
  store = new PostgresStateStore(db, { table: `state_${++tableN}` });
  return () => rm(root, { recursive: true, force: true });
});

const NOW = new Date('2024-03-04T12:00:00Z');
const D = (s: string) => new Date(s);
const cfg = { maxGatherPeriodDays: 3 };

function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const mk = (): Logger & { lines: string[] } => ({
    lines,
    debug: (m) => lines.push(`debug ${m}`),
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
    child: () => mk(),
  });
  return mk();
}

describe('gather', () => {
  it('ships daily slices slice by slice, JSON riding in the first tarball, and resumes from the watermark', async () => {
    const collectors = [configCollector(), jsonCollector('total_workers_vcpu', { total: 4 }), dailyCsv('job_host_summary')];
    const work = join(root, 'work');
    await mkdir(work);
    const res = await gather({ db, collectors, storage, stateStore: store, now: NOW, config: cfg, installUuid: 'u1', tempDir: work });
    expect(res.ok).toBe(true);
    const names = res.tarballs.map((t) => t.name);
    const jhs = tarballIndex('job_host_summary', 0);
    expect(names).toEqual([
      `data/2024/03/01/u1-2024-03-01-120000+0000-2024-03-02-000000+0000-${jhs}.tar.gz`,
      `data/2024/03/02/u1-2024-03-02-000000+0000-2024-03-03-000000+0000-${jhs}.tar.gz`,
      `data/2024/03/03/u1-2024-03-03-000000+0000-2024-03-04-000000+0000-${jhs}.tar.gz`,
      `data/2024/03/04/u1-2024-03-04-000000+0000-2024-03-04-120000+0000-${jhs}.tar.gz`,
    ]);
    expect(res.tarballs.every((t) => t.path === undefined)).toBe(true);
    const stored = await readStored(storage, base);
    expect(stored.map((t) => t.name)).toEqual(names);
    expect(stored[0]!.order).toEqual(['./total_workers_vcpu.json', './job_host_summary.csv', './config.json', './data_collection_status.csv', './manifest.json']);
    expect(stored[1]!.order).toEqual(['./job_host_summary.csv', './config.json', './data_collection_status.csv', './manifest.json']);
    expect(stored[0]!.members['./manifest.json']!.toString()).toBe(
      '{"total_workers_vcpu.json": "1.0", "job_host_summary.csv": "1.1", "config.json": "1.0", "data_collection_status.csv": "1.0"}',
    );
    expect(stored[2]!.members['./job_host_summary.csv']!.toString()).toBe(
      'since,until,part,pad\n2024-03-03T00:00:00.000Z,2024-03-04T00:00:00.000Z,0,\n',
    );
    assertTiles(shippedWindows(stored, 'job_host_summary.csv'), D('2024-03-01T12:00:00Z'), NOW);
    expect(res.watermarks).toEqual({ job_host_summary: NOW.toISOString(), total_workers_vcpu: NOW.toISOString() });
    // No temp files or local tarballs are left behind by a shipping run.
    expect(await readdir(work)).toEqual([]);

    const later = new Date('2024-03-05T06:00:00Z');
    const res2 = await gather({ db, collectors, storage, stateStore: store, now: later, config: cfg, installUuid: 'u1' });
    expect(res2.tarballs.map((t) => t.name)).toEqual([
      `data/2024/03/04/u1-2024-03-04-120000+0000-2024-03-05-000000+0000-${jhs}.tar.gz`,
      `data/2024/03/05/u1-2024-03-05-000000+0000-2024-03-05-060000+0000-${jhs}.tar.gz`,
    ]);
    assertTiles(shippedWindows(await readStored(storage, base), 'job_host_summary.csv'), D('2024-03-01T12:00:00Z'), later);
    const status = await readCollectorStatus(store);
    expect(status.map((s) => [s.key, s.consecutiveFailures, s.watermark?.toISOString()])).toEqual([
      ['config', 0, undefined],
      ['job_host_summary', 0, later.toISOString()],
      ['total_workers_vcpu', 0, later.toISOString()],
    ]);
    expect(status[1]!.lastSuccessAt).toBeInstanceOf(Date);
  });

  it('records a throwing collector as failed, ships the others, and does not move its watermark past the failure', async () => {
    const calls: { since: Date; until: Date }[] = [];
    const bad = dailyCsv('main_jobevent', { fail: (s) => s.getTime() === D('2024-03-02T00:00:00Z').getTime(), calls });
    const good = dailyCsv('job_host_summary');
    const log = capture();
    const res = await gather({ db, collectors: [configCollector(), good, bad], storage, stateStore: store, now: NOW, config: cfg, installUuid: 'u1', logger: log });
    expect(res.ok).toBe(false);
    expect(res.failures).toHaveLength(1);
    expect(res.failures[0]).toMatchObject({ key: 'main_jobevent', stage: 'collect' });
    expect(res.failures[0]!.error).toContain('boom on 2024-03-02');
    expect(res.failures[0]!.error).not.toContain('hunter22');
    // Later slices are left for the next run once one failed.
    expect(calls.map((c) => c.since.toISOString())).toEqual(['2024-03-01T12:00:00.000Z', '2024-03-02T00:00:00.000Z']);
    expect(res.watermarks.main_jobevent).toBe('2024-03-02T00:00:00.000Z');
    expect(res.watermarks.job_host_summary).toBe(NOW.toISOString());
    const stored = await readStored(storage, base);
    assertTiles(shippedWindows(stored, 'job_host_summary.csv'), D('2024-03-01T12:00:00Z'), NOW);
    const failedRows = stored.flatMap((t) => t.status.filter((r) => r[4] === 'failed'));
    expect(failedRows.map((r) => [r[1], r[3]])).toEqual([['2024-03-02 00:00:00+00:00', 'main_jobevent.csv']]);
    const st = (await readCollectorStatus(store)).find((s) => s.key === 'main_jobevent')!;
    expect(st.consecutiveFailures).toBe(1);
    expect(st.lastError).toContain('boom');
    expect(st.lastSuccessAt).toBeUndefined();
    expect(log.lines.some((l) => l.startsWith('error collector main_jobevent failed'))).toBe(true);

    // Fixed: the next run starts exactly where the failure left off.
    const fixed = dailyCsv('main_jobevent');
    const res2 = await gather({ db, collectors: [configCollector(), good, fixed], storage, stateStore: store, now: NOW, config: cfg, installUuid: 'u1' });
    expect(res2.ok).toBe(true);
    const after = await readStored(storage, base);
    assertTiles(shippedWindows(after, 'main_jobevent.csv'), D('2024-03-01T12:00:00Z'), NOW);
    // Re-sending main_jobevent's windows never overwrites job_host_summary's tarballs of the same days.
    assertTiles(shippedWindows(after, 'job_host_summary.csv'), D('2024-03-01T12:00:00Z'), NOW);
    // The status-only tarball of the failed window was replaced by the successful delivery.
    expect(after.flatMap((t) => t.status.filter((r) => r[4] === 'failed'))).toEqual([]);
    const st2 = (await readCollectorStatus(store)).find((s) => s.key === 'main_jobevent')!;
    expect(st2.consecutiveFailures).toBe(0);
    expect(st2.watermark?.toISOString()).toBe(NOW.toISOString());
  });

  it('records nothing as shipped when an upload fails, and the next run re-sends the same windows under the same names', async () => {
    const collectors = [configCollector(), jsonCollector('total_workers_vcpu', { total: 4 }), dailyCsv('job_host_summary')];
    const clean = new DirectoryStorage({ base: join(root, 'clean') });
    const reference = await gather({ db, collectors, storage: clean, stateStore: new JsonFileStateStore(join(root, 'clean.json')), now: NOW, config: cfg, installUuid: 'u1' });

    const failing = new FailingStorage(storage, (name) => name.includes('2024-03-02-000000+0000-2024-03-03'));
    const res = await gather({ db, collectors, storage: failing, stateStore: store, now: NOW, config: cfg, installUuid: 'u1' });
    expect(res.ok).toBe(false);
    expect(res.failures).toEqual([expect.objectContaining({ stage: 'upload', tarball: reference.tarballs[1]!.name })]);
    // Only what is really in storage is returned; later slices of the key wait for the next run.
    expect(res.tarballs.map((t) => t.name)).toEqual([reference.tarballs[0]!.name]);
    for (const t of res.tarballs) expect(await storage.exists(t.name)).toBe(true);
    expect(res.watermarks.job_host_summary).toBe('2024-03-02T00:00:00.000Z');
    expect((await readCollectorStatus(store)).find((s) => s.key === 'job_host_summary')!.lastError).toMatch(/upload of .* failed: storage failing: .*connection reset/);

    const res2 = await gather({ db, collectors, storage, stateStore: store, now: NOW, config: cfg, installUuid: 'u1' });
    expect(res2.ok).toBe(true);
    expect(res2.tarballs.map((t) => t.name)).toEqual(reference.tarballs.slice(1).map((t) => t.name));
    const stored = await readStored(storage, base);
    expect(stored.map((t) => t.name)).toEqual(reference.tarballs.map((t) => t.name));
    assertTiles(shippedWindows(stored, 'job_host_summary.csv'), D('2024-03-01T12:00:00Z'), NOW);
    expect((await readCollectorStatus(store)).find((s) => s.key === 'job_host_summary')!.consecutiveFailures).toBe(0);
  });

  it('ships to a put-only Sink without looking for earlier deliveries, and without a false warning', async () => {
    // Only put and describe: what the console ingress offers. Delivered bytes land in a directory to check them.
    const puts: string[] = [];
    const sink: Sink = {
      backend: 'put-only',
      put: async (name, source) => {
        puts.push(name);
        await storage.put(name, source);
      },
      describe: () => ({ backend: 'put-only' }),
    };
    expect(isStore(sink)).toBe(false);
    const log = capture();
    const res = await gather({ db, collectors: [configCollector(), dailyCsv('job_host_summary')], storage: sink, stateStore: store, now: NOW, config: cfg, installUuid: 'u1', logger: log });
    expect(res.ok).toBe(true);
    expect(puts).toEqual(res.tarballs.map((t) => t.name));
    expect(puts.length).toBeGreaterThan(0);
    expect(log.lines.filter((l) => l.startsWith('warn'))).toEqual([]);
    expect((await readStored(storage, base)).map((t) => t.name)).toEqual(puts);
    expect(res.watermarks.job_host_summary).toBe(NOW.toISOString());
  });

  it('refuses to ship without a sink unless it is a dry run', async () => {
    await expect(gather({ db, collectors: [configCollector(), dailyCsv('job_host_summary')], stateStore: store, now: NOW, config: cfg, installUuid: 'u1' })).rejects.toThrow(
      /gather needs a storage to ship to/,
    );
  });

  it('dry-run builds and keeps the tarballs, ships nothing and moves no watermark', async () => {
    const out = join(root, 'dry');
    const log = capture();
    const res = await gather({
      db,
      collectors: [configCollector(), dailyCsv('job_host_summary')],
      stateStore: store,
      now: NOW,
      config: cfg,
      installUuid: 'u1',
      dryRun: true,
      outputDir: out,
      logger: log,
    });
    expect(res.dryRun).toBe(true);
    expect(res.outputDir).toBe(out);
    expect(res.tarballs).toHaveLength(4);
    for (const t of res.tarballs) {
      expect(t.path).toBe(join(out, t.name));
      expect(existsSync(t.path!)).toBe(true);
      expect((await readTarballMembers(t.path!)).map((m) => m.name)).toContain('./job_host_summary.csv');
    }
    // The output directory is a real Store with the ship layout: read back like any shipped directory.
    expect(await new DirectoryStorage({ base: out }).glob('data/*/*/*/*.tar.gz')).toEqual(res.tarballs.map((t) => t.name).sort());
    expect(await storage.glob('**')).toEqual([]);
    expect(res.watermarks).toEqual({});
    expect(await store.watermarks()).toEqual(new Map());
    expect(await store.statuses()).toEqual([]);
    expect(log.lines.some((l) => l.includes(`kept in ${out}`))).toBe(true);
    // Not even the state table: a dry run writes nothing.
    const { rows } = await db.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [`state_${tableN}`]);
    expect(rows[0]!.t).toBeNull();
  });

  it('a dry run takes no lock: it runs while another gather holds the cluster lock', async () => {
    const other = await tdb.client();
    await other.query('SELECT pg_advisory_lock(hashtext($1)::bigint)', [GATHER_LOCK]);
    try {
      const res = await gather({ db, collectors: [configCollector(), dailyCsv('job_host_summary')], storage, stateStore: store, now: NOW, config: cfg, installUuid: 'u1', dryRun: true, outputDir: join(root, 'dry') });
      expect(res.tarballs).toHaveLength(4);
      const shipping = await gather({ db, collectors: [configCollector()], storage, stateStore: store, now: NOW, installUuid: 'u1' }).catch((e) => e);
      expect(shipping?.name).toBe('LockedError');
    } finally {
      await other.query('SELECT pg_advisory_unlock(hashtext($1)::bigint)', [GATHER_LOCK]);
    }
  });

  it('takes the cluster lock given as `lock`: a held lock file stops a second gather, naming the file', async () => {
    const stem = join(root, 'state.json');
    const held = await fileLock(stem).acquire(GATHER_LOCK);
    const fileStore = new JsonFileStateStore(stem);
    try {
      const err = await gather({ db, collectors: [configCollector()], storage, stateStore: fileStore, lock: fileLock(stem), now: NOW, installUuid: 'u1' }).catch((e) => e);
      expect(err?.name).toBe('LockedError');
      expect(err.message).toContain(`(lock file ${stem}.${GATHER_LOCK}.lock is held)`);
    } finally {
      await held!.release();
    }
    const res = await gather({ db, collectors: [configCollector(), dailyCsv('job_host_summary')], storage, stateStore: fileStore, lock: fileLock(stem), now: NOW, config: cfg, installUuid: 'u1' });
    expect(res.ok).toBe(true);
    expect((await fileStore.watermarks()).get('job_host_summary')?.toISOString()).toBe(NOW.toISOString());
    expect(existsSync(`${stem}.${GATHER_LOCK}.lock`)).toBe(false);
  });

  it('keeps secrets out of config.json: only safe billing fields persist', async () => {
    const res = await gather({
      db,
      collectors: [configCollector({ admin_password: 'pw-123456', nested: { api_token: 'tok-123456', ok: 1 } }), dailyCsv('job_host_summary')],
      storage,
      stateStore: store,
      now: NOW,
      config: { maxGatherPeriodDays: 1 },
      billingProviderParams: {
        ship_path: 'metrics',
        bucket_name: 'b',
        bucket_endpoint: 'http://127.0.0.1:9000',
        bucket_region: 'us-east-1',
        bucket_access_key: 'AKIAEXAMPLEKEY',
        bucket_secret_key: 'very-secret-value',
        bucketSecretKey: 'camel-secret-value',
      },
    });
    const stored = await readStored(storage, base);
    expect(stored.length).toBe(res.tarballs.length);
    for (const t of stored) {
      const text = t.members['./config.json']!.toString();
      for (const secret of ['AKIAEXAMPLEKEY', 'very-secret-value', 'camel-secret-value', 'pw-123456', 'tok-123456']) expect(text).not.toContain(secret);
      const doc = JSON.parse(text);
      expect(doc.billing_provider_params).toEqual({ ship_path: 'metrics', bucket_name: 'b', bucket_endpoint: 'http://127.0.0.1:9000', bucket_region: 'us-east-1' });
      expect(doc.nested).toEqual({ ok: 1 });
      expect(doc.install_uuid).toBe('uuid-from-config');
    }
    // installUuid defaults to the config document's install_uuid.
    expect(res.tarballs[0]!.name).toContain('/uuid-from-config-2024-03-03-120000+0000-');
  });

  it('needs the config collector, and rejects since after until', async () => {
    await expect(gather({ db, collectors: [dailyCsv('job_host_summary')], storage, stateStore: store, installUuid: 'u1' })).rejects.toThrow(
      /needs the config collector.*got: job_host_summary/,
    );
    const err = await gather({ db, collectors: [configCollector()], storage, stateStore: store, installUuid: 'u1', now: NOW, since: D('2024-03-04T00:00:00Z'), until: D('2024-03-02T00:00:00Z') }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/since \(2024-03-04T00:00:00.000Z\) is after until \(2024-03-02T00:00:00.000Z\)/);
    const failing = makeCollector({ key: 'config', version: '1.0', format: 'json', description: '', config: true }, async () => {
      throw new Error('controller settings unreadable');
    });
    await expect(gather({ db, collectors: [configCollector(), dailyCsv('x'), dailyCsv('x')], storage, stateStore: store, installUuid: 'u1' })).rejects.toThrow(
      /collector key x appears twice/,
    );
    await expect(gather({ db, collectors: [failing, dailyCsv('x')], storage, stateStore: store, installUuid: 'u1', now: NOW })).rejects.toBeInstanceOf(CollectorError);
    expect((await store.statuses()).find((s) => s.key === 'config')?.lastError).toContain('controller settings unreadable');
  });

  it('runs optional collectors only when named, and honours the job_host_summary switch', async () => {
    const opt = jsonCollector('main_host', { n: 1 }, { optional: true } as never);
    const collectors = [configCollector(), dailyCsv('job_host_summary'), opt];
    const r1 = await gather({ db, collectors, storage, stateStore: store, now: NOW, config: { maxGatherPeriodDays: 1 }, installUuid: 'u1' });
    expect(Object.keys(r1.watermarks)).toEqual(['job_host_summary']);
    const r2 = await gather({
      db,
      collectors,
      storage,
      stateStore: store,
      now: NOW,
      config: { maxGatherPeriodDays: 1, optionalCollectors: ['main_host'], disableJobHostSummary: true },
      installUuid: 'u1',
    });
    expect(r2.tarballs.flatMap((t) => t.members).filter((m) => !m.startsWith('config') && !m.startsWith('data_') && !m.startsWith('manifest'))).toEqual(['main_host.json']);
  });

  it('stores a limit (snapshot) collector at until − 1 s, as the newest reference: folder, name, status row; watermark at until', async () => {
    const calls: [string, string][] = [];
    const mainHost = makeCollector({ key: 'main_host', version: '1.0', format: 'csv', description: '', slicing: 'limit', optional: true }, async (p) => {
      const { writeFile } = await import('node:fs/promises');
      calls.push([(p.since as Date).toISOString(), (p.until as Date).toISOString()]);
      const f = join(p.outputDir as string, 'main_host.csv');
      await writeFile(f, 'host_name\nh1\n');
      return { format: 'csv', files: [f] };
    });
    const collectors = [configCollector(), dailyCsv('job_host_summary'), mainHost];
    const config = { maxGatherPeriodDays: 28, optionalCollectors: ['main_host'] };
    const now = D('2026-12-06T13:55:20.250Z');
    const run = (o: { since?: Date; until?: Date; now: Date }) => gather({ db, collectors, storage, stateStore: store, config, installUuid: 'u1', ...o });
    const mainHostTarballs = async () => (await readStored(storage, base)).filter((t) => t.members['./main_host.csv']);

    const r1 = await run({ since: D('2026-12-01T00:00:00Z'), now });
    expect(calls).toEqual([['2026-12-06T13:55:19.250Z', '2026-12-06T13:55:19.250Z']]);
    const idx = tarballIndex('main_host', 0);
    let stored = await mainHostTarballs();
    expect(stored.map((t) => t.name)).toEqual([`data/2026/12/06/u1-2026-12-06-135519+0000-2026-12-06-135519+0000-${idx}.tar.gz`]);
    expect(stored[0]!.status.map((r) => r.slice(1, 5))).toEqual([
      ['2026-12-06 13:55:19.250000+00:00', '2026-12-06 13:55:19.250000+00:00', 'main_host.csv', 'ok'],
    ]);
    // The daily collector still gets its whole window, from since.
    expect(r1.tarballs.some((t) => t.name.startsWith('data/2026/12/01/u1-2026-12-01-000000+0000-2026-12-02-000000+0000-'))).toBe(true);
    expect(r1.watermarks.main_host).toBe('2026-12-06T13:55:20.250Z');

    // Nothing has happened since: the snapshot is up to date, not taken again.
    await run({ now });
    expect(calls).toHaveLength(1);

    // A past window ending at a midnight stores the snapshot in the day that ends there, and leaves the watermark.
    const r3 = await run({ since: D('2026-12-01T00:00:00Z'), until: D('2026-12-03T00:00:00Z'), now });
    expect(calls.at(-1)).toEqual(['2026-12-02T23:59:59.000Z', '2026-12-02T23:59:59.000Z']);
    stored = await mainHostTarballs();
    expect(stored.map((t) => t.name)).toContain(`data/2026/12/02/u1-2026-12-02-235959+0000-2026-12-02-235959+0000-${idx}.tar.gz`);
    expect(r3.watermarks.main_host).toBe('2026-12-06T13:55:20.250Z');
  });

  it('takes the real execution_environments snapshot at until − 1 s, and moves its watermark only once that tarball is delivered', async () => {
    await db.query(`CREATE TABLE main_executionenvironment (id integer PRIMARY KEY, created timestamptz NOT NULL, modified timestamptz NOT NULL,
      description text NOT NULL, image varchar(1024) NOT NULL, managed boolean NOT NULL, created_by_id integer, credential_id integer,
      modified_by_id integer, organization_id integer, name varchar(512) NOT NULL, pull varchar(16) NOT NULL)`);
    await db.query(`INSERT INTO main_executionenvironment VALUES
      (2, '2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z', '', 'quay.io/ansible/awx-ee:24.6', false, 1, NULL, 1, 3, 'Org EE', 'always'),
      (1, '2026-10-01T00:00:00Z', '2026-10-01T00:00:00Z', 'default', 'quay.io/ansible/awx-ee:latest', true, NULL, NULL, NULL, NULL, 'AWX EE', '')`);
    const collectors = [configCollector(), dailyCsv('job_host_summary'), executionEnvironments];
    const config = { maxGatherPeriodDays: 28, optionalCollectors: ['execution_environments'] };
    const now = D('2026-12-06T13:55:20.250Z');
    const idx = tarballIndex('execution_environments', 0);
    const name = `data/2026/12/06/u1-2026-12-06-135519+0000-2026-12-06-135519+0000-${idx}.tar.gz`;
    const run = (sink: Sink, since?: Date) => gather({ db, collectors, storage: sink, stateStore: store, config, installUuid: 'u1', now, ...(since ? { since } : {}) });

    // The snapshot's upload fails: the daily collector moves on, the snapshot's watermark does not.
    const r1 = await run(new FailingStorage(storage, (n) => n === name), D('2026-12-01T00:00:00Z'));
    expect(r1.failures).toEqual([expect.objectContaining({ stage: 'upload', tarball: name })]);
    expect(r1.watermarks).toEqual({ job_host_summary: now.toISOString() });
    expect(await storage.exists(name)).toBe(false);

    // The next run (no since: from the horizon) takes it again, under the same name, and moves the watermark to until.
    const r2 = await run(storage);
    expect(r2.ok).toBe(true);
    expect(r2.tarballs.map((t) => t.name)).toEqual([name]);
    expect(r2.watermarks).toEqual({ job_host_summary: now.toISOString(), execution_environments: now.toISOString() });
    const stored = (await readStored(storage, base)).filter((t) => t.members['./execution_environments.csv']);
    expect(stored.map((t) => t.name)).toEqual([name]);
    expect(stored[0]!.status.map((r) => r.slice(1, 5))).toEqual([
      ['2026-12-06 13:55:19.250000+00:00', '2026-12-06 13:55:19.250000+00:00', 'execution_environments.csv', 'ok'],
    ]);
    expect(stored[0]!.members['./execution_environments.csv']!.toString()).toBe(
      'id,created,modified,description,image,managed,created_by_id,credential_id,modified_by_id,organization_id,name,pull\n' +
        '1,2026-10-01 00:00:00+00,2026-10-01 00:00:00+00,default,quay.io/ansible/awx-ee:latest,t,,,,,AWX EE,""\n' +
        '2,2026-11-01 00:00:00+00,2026-11-02 00:00:00+00,"",quay.io/ansible/awx-ee:24.6,f,1,,1,3,Org EE,always\n',
    );
  });

  it('packs split CSV parts one per tarball and non-sliced CSVs first-fit, with the gather until as every mtime', async () => {
    const snapshot = (key: string, size: number) =>
      makeCollector({ key, version: '1.0', format: 'csv', description: key }, async (p) => {
        const { writeFile } = await import('node:fs/promises');
        const f = join(p.outputDir as string, `${key}.csv`);
        await writeFile(f, 'a\n'.padEnd(size, 'x'));
        expect(p.since).toBeUndefined();
        return { format: 'csv', files: [f] };
      });
    const res = await gather({
      db,
      collectors: [configCollector(), jsonCollector('j', { a: 1 }), snapshot('s1', 300), snapshot('s2', 300), dailyCsv('d', { parts: 2, padding: 200 })],
      storage,
      stateStore: store,
      now: NOW,
      config: { maxGatherPeriodDays: 1 },
      maxSize: '1K',
      installUuid: 'u1',
    });
    const stored = await readStored(storage, base);
    const data = (t: (typeof stored)[number]) => t.order.filter((n) => !/config|data_collection|manifest/.test(n));
    expect(stored.length).toBe(res.tarballs.length);
    // j, s1, s2 fill tarball 0 first-fit; the first daily part still fits there and ships it; a second part
    // of the same slice cannot share a tarball with the first, so each later part gets its own.
    const byName = new Map(res.tarballs.map((t) => [t.name, t]));
    expect(res.tarballs.map((t) => byName.get(t.name)!.members.filter((n) => !/config|data_collection|manifest/.test(n)))).toEqual([
      ['j.json', 's1.csv', 's2.csv', 'd.csv'],
      ['d.csv'],
      ['d.csv'],
      ['d.csv'],
    ]);
    expect(stored.flatMap(data).filter((n) => n === './d.csv')).toHaveLength(4);
    for (const t of res.tarballs) {
      const members = await readTarballMembers(join(base, t.name));
      for (const m of members) expect(m.mtime?.getTime()).toBe(NOW.getTime());
    }
  });
});

describe('watermarks and skipped collectors', () => {
  it('warns when a watermark is older than the horizon, and treats a skipped CSV collector as done with nothing to ship', async () => {
    await store.advance(new Map([['job_host_summary', D('2024-02-01T00:00:00Z')]]));
    const skipped = makeCollector({ key: 'main_indirectmanagednodeaudit', version: '1.0', format: 'csv', description: '', slicing: 'daily' }, async () => ({
      format: 'csv',
      files: [],
      skipped: 'table main_indirectmanagednodeaudit does not exist on this controller',
    }));
    const log = capture();
    const res = await gather({ db, collectors: [configCollector(), dailyCsv('job_host_summary'), skipped], storage, stateStore: store, now: NOW, config: cfg, installUuid: 'u1', logger: log });
    expect(res.ok).toBe(true);
    expect(log.lines).toContain(
      'warn job_host_summary: last gathered 2024-02-01T00:00:00.000Z, before the 3-day horizon; gathering from 2024-03-01T12:00:00.000Z (older data is not gathered)',
    );
    expect(log.lines.some((l) => l.startsWith('warn main_indirectmanagednodeaudit: skipped: table'))).toBe(true);
    expect(res.watermarks.main_indirectmanagednodeaudit).toBe(NOW.toISOString());
    expect(res.tarballs.flatMap((t) => t.members)).not.toContain('main_indirectmanagednodeaudit.csv');
  });
});

describe('oversized collector output', () => {
  it('cuts a CSV bigger than maxSize between records, one part per tarball, named part by part', async () => {
    const big = makeCollector({ key: 'events', version: '1.0', format: 'csv', description: '', slicing: 'daily' }, async (p) => {
      const { writeFile } = await import('node:fs/promises');
      const f = join(p.outputDir as string, 'events.csv');
      const rows = Array.from({ length: 40 }, (_, i) => `${i},"line one\nline two ${'z'.repeat(40)}"\n`).join('');
      await writeFile(f, `id,text\n${rows}`);
      return { format: 'csv', files: [f] };
    });
    const res = await gather({
      db,
      collectors: [configCollector(), big],
      storage,
      stateStore: store,
      now: D('2024-03-04T06:00:00Z'),
      since: D('2024-03-04T00:00:00Z'),
      maxSize: 1024,
      installUuid: 'u1',
    });
    expect(res.ok).toBe(true);
    expect(res.tarballs.length).toBeGreaterThan(2);
    const idx = tarballIndex('events', 0);
    expect(res.tarballs.map((t) => t.name.replace(/.*-(\d+)\.tar\.gz$/, '$1'))).toEqual(res.tarballs.map((_, i) => String(idx + i)));
    let ids: string[] = [];
    for (const t of res.tarballs) {
      const members = await readTarballMembers(join(base, t.name));
      const csv = members.find((m) => m.name === './events.csv')!.data;
      expect(csv.length).toBeLessThanOrEqual(1024);
      expect(csv.toString().startsWith('id,text\n')).toBe(true);
      ids = ids.concat([...csv.toString().matchAll(/^(\d+),"/gm)].map((m) => m[1]!));
    }
    expect(ids).toEqual(Array.from({ length: 40 }, (_, i) => String(i)));
    expect(res.watermarks.events).toBe('2024-03-04T06:00:00.000Z');
  });
});

describe('one gather per cluster', () => {
  it('a second concurrent gather fails at once with LockedError; another lock suffix may run', async () => {
    const other = await tdb.client();
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let entered!: () => void;
    const inside = new Promise<void>((r) => {
      entered = r;
    });
    const slow = makeCollector({ key: 'slow', version: '1.0', format: 'json', description: '', slicing: 'limit' }, async () => {
      entered();
      await gate;
      return { format: 'json', data: { ok: true } };
    });
    const first = gather({ db, collectors: [configCollector(), slow], storage, stateStore: store, now: NOW, installUuid: 'u1' });
    await inside;
    const t0 = Date.now();
    const err = await gather({ db: other, collectors: [configCollector()], storage, stateStore: new PostgresStateStore(other, { table: 'other_state' }), now: NOW, installUuid: 'u1' }).catch((e) => e);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(err?.name).toBe('LockedError');
    expect(err.message).toContain(`"${GATHER_LOCK}" is held`);
    const suffixed = await gather({
      db: other,
      collectors: [configCollector(), dailyCsv('x')],
      storage,
      stateStore: new PostgresStateStore(other, { table: 'other_state' }),
      now: NOW,
      installUuid: 'u1',
      config: { collectorLockSuffix: 'tenant2', maxGatherPeriodDays: 1 },
    });
    expect(suffixed.ok).toBe(true);
    release();
    expect((await first).ok).toBe(true);
    // Released: the next run takes the lock again.
    await expect(gather({ db: other, collectors: [configCollector()], storage, stateStore: store, now: NOW, installUuid: 'u1' })).resolves.toMatchObject({ ok: true });
  });
});
