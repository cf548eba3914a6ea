import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ConfigError, StorageError, parseCsvRows as coreParseCsvRows } from '@tally/core';
import { PostgresStorage, createStorageTable } from '@tally/storage-postgres';
import { parseCsvRows } from '@tally/core';
import { quoteIdent } from '../src/postgres.js';
import { type TestDatabase, createTestDatabase, metricsUtilityTarballs, storageContract } from '@tally/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let db: TestDatabase;
let client: pg.Client;
let scratch: string;

beforeAll(async () => {
  db = await createTestDatabase('storage_pg');
  client = await db.client();
  scratch = await mkdtemp(join(tmpdir(), 'tally-pg-storage-'));
  // Name-stamp date filtering: the contract's since/until semantics.
  await createStorageTable(client, { table: 'contract', timestampField: null });
  await client.query('CREATE SCHEMA "odd ""schema"""');
  await createStorageTable(client, { table: 'odd "schema".my_table' });
});
afterAll(async () => {
  await db?.drop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

storageContract('postgres', () => new PostgresStorage({ url: db.url, table: 'contract', timestampField: null }), {
  starCrossesSlash: true,
  tempCopies: true,
});

describe('PostgresStorage', () => {
  it('quotes every dot-separated identifier part', () => {
    expect(quoteIdent('storage')).toBe('"storage"');
    expect(quoteIdent('metrics.storage')).toBe('"metrics"."storage"');
    expect(quoteIdent('a"b.c')).toBe('"a""b"."c"');
    expect(() => quoteIdent('a..b')).toThrow(ConfigError);
    expect(() => quoteIdent('')).toThrow(ConfigError);
  });

  it('createStorageTable makes the table and its timestamp index, idempotently', async () => {
    await createStorageTable(client, { table: 'made' });
    await createStorageTable(client, { table: 'made' });
    const cols = await client.query(
      "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = 'made' ORDER BY ordinal_position",
    );
    expect(cols.rows).toEqual([
      { column_name: 'key', data_type: 'text', is_nullable: 'NO' },
      { column_name: 'value', data_type: 'jsonb', is_nullable: 'NO' },
      { column_name: 'updated_at', data_type: 'timestamp with time zone', is_nullable: 'NO' },
    ]);
    const idx = await client.query("SELECT indexname FROM pg_indexes WHERE tablename = 'made' ORDER BY 1");
    expect(idx.rows.map((r) => r.indexname)).toEqual(['made_pkey', 'made_updated_at_idx']);
  });

  it('works in a schema-qualified table with awkward names, values as parameters', async () => {
    const s = new PostgresStorage({ db: client, table: 'odd "schema".my_table' });
    const evil = "x'); DROP TABLE contract; --.json";
    await s.put(evil, { dict: { ok: true } });
    expect(await s.exists(evil)).toBe(true);
    expect(await s.getData(evil)).toEqual({ ok: true });
    const { rows } = await client.query('SELECT count(*)::int AS n FROM "odd ""schema"""."my_table"');
    expect(rows[0].n).toBe(1);
    expect((await client.query("SELECT to_regclass('contract') AS t")).rows[0].t).toBe('contract');
  });

  it('stores .json parsed and .csv as a list of row objects', async () => {
    await createStorageTable(client, { table: 'kinds' });
    const s = new PostgresStorage({ db: client, table: 'kinds' });
    const csv = join(scratch, 'hosts.csv');
    await writeFile(csv, '\ufeffid,host_name,note\r\n1,alpha,"a, ""quoted"" note"\r\n2,beta,\r\n3,"multi\nline",x\r\n');
    await s.put('data/hosts.csv', { filename: csv });
    await s.put('data/config.json', { buffer: '{"version": "2.4", "list": [1, 2]}' });
    await s.put('data/stream.json', { stream: Readable.from(['{"a":', ' 1}']) });
    const raw = await client.query(`SELECT key, value, jsonb_typeof(value) AS t FROM kinds ORDER BY key`);
    expect(raw.rows).toEqual([
      { key: 'data/config.json', value: { version: '2.4', list: [1, 2] }, t: 'object' },
      {
        key: 'data/hosts.csv',
        value: [
          { id: '1', host_name: 'alpha', note: 'a, "quoted" note' },
          { id: '2', host_name: 'beta', note: null },
          { id: '3', host_name: 'multi\nline', note: 'x' },
        ],
        t: 'array',
      },
      { key: 'data/stream.json', value: { a: 1 }, t: 'object' },
    ]);
    // get() of a non-binary value is its JSON text.
    await using local = await s.get('data/hosts.csv');
    expect(JSON.parse(await readFile(local.path, 'utf8'))).toHaveLength(3);
    await expect(s.put('bad.json', { buffer: '{nope' })).rejects.toThrow(/bad\.json: content is not valid JSON/);
    await expect(s.put('bad.csv', { buffer: 'a,b\n1,2,3\n' })).rejects.toThrow(/bad\.csv: content is not valid CSV: CSV row 2 has 3 fields/);
  });

  it('stores a real metrics-utility tarball as base64 and gives the bytes back', async () => {
    await createStorageTable(client, { table: 'tarballs' });
    const s = new PostgresStorage({ db: client, table: 'tarballs' });
    const { base, names } = metricsUtilityTarballs();
    const name = names[0]!;
    const bytes = readFileSync(join(base, name));
    await s.put(name, { filename: join(base, name) });
    const raw = (await client.query('SELECT value FROM tarballs WHERE key = $1', [name])).rows[0].value;
    expect(Object.keys(raw).sort()).toEqual(['data', 'encoding']);
    expect(raw.encoding).toBe('base64');
    await using local = await s.get(name);
    expect(readFileSync(local.path).equals(bytes)).toBe(true);
  });

  it('upserts and filters glob by the timestamp column', async () => {
    await createStorageTable(client, { table: 'stamped' });
    const s = new PostgresStorage({ db: client, table: 'stamped' });
    await s.put('a/one.json', { dict: { v: 1 } });
    await s.put('a/two.json', { dict: { v: 2 } });
    await s.put('b/three.json', { dict: { v: 3 } });
    await client.query("UPDATE stamped SET updated_at = '2024-01-01T00:00:00Z' WHERE key = 'a/one.json'");
    await s.put('a/two.json', { dict: { v: 22 } }); // upsert refreshes the timestamp
    expect(await s.getData('a/two.json')).toEqual({ v: 22 });
    expect((await client.query('SELECT count(*)::int AS n FROM stamped')).rows[0].n).toBe(3);
    expect(await s.glob('a/*')).toEqual(['a/one.json', 'a/two.json']);
    expect(await s.glob('*.json', { since: new Date('2025-01-01T00:00:00Z') })).toEqual(['a/two.json', 'b/three.json']);
    expect(await s.glob('a/*', { until: new Date('2025-01-01T00:00:00Z') })).toEqual(['a/one.json']);
    // LIKE wildcards in the literal prefix are literal.
    await s.put('p%_x/z.json', { dict: {} });
    expect(await s.glob('p%_x/*')).toEqual(['p%_x/z.json']);
    expect(await s.glob('p__x/*')).toEqual([]);
  });

  it('reports a missing table as a StorageError with a hint, and needs a database', async () => {
    const s = new PostgresStorage({ db: client, table: 'nope' });
    await expect(s.put('x.json', { dict: {} })).rejects.toThrow(/table nope failed: .*does not exist \(create it with createStorageTable\)/);
    await expect(s.exists('x.json')).rejects.toThrow(StorageError);
    expect(() => new PostgresStorage({})).toThrow(/DATABASE_URL/);
  });

  it('describe() hides the password of the URL', () => {
    const s = new PostgresStorage({ url: 'postgres://tally:hunter2secret@127.0.0.1:5432/metrics', table: 'storage' });
    expect(s.describe()).toEqual({ backend: 'postgres', table: 'storage', database: '127.0.0.1:5432/metrics' });
    void s.close();
  });
});

describe('parseCsvRows', () => {
  it('is the CSV reader of @tally/core', () => {
    expect(parseCsvRows).toBe(coreParseCsvRows);
  });
});
