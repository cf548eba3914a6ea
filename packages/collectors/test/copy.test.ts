import { readdirSync, readFileSync } from 'node:fs';
import { bound, copyToCsv } from '@tally/collectors';
import { hostVariableSql, isJsonSql, type JsonCheck, prepareJsonCheck } from '../src/host-variables.js';
import { CollectorError, parseCsv, tempdir, type TempDir } from '@tally/core';
import { createTestDatabase, type TestDatabase } from '@tally/testkit';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

let tdb: TestDatabase;
let db: pg.Client;
let out: TempDir;
beforeAll(async () => {
  tdb = await createTestDatabase('copy');
  db = await tdb.client();
});
afterAll(async () => {
  await tdb?.drop();
});
beforeEach(async () => {
  out = await tempdir('copy-out');
});
afterEach(async () => {
  await out.remove();
});

describe('copyToCsv', () => {
  it('binds values through session settings, never as SQL text', async () => {
    const evil = "x'); DROP TABLE pg_class; --";
    const files = await copyToCsv(
      db,
      `SELECT ${bound('name', 'text')} AS name, ${bound('at', 'timestamptz')} AS at, ${bound('n', 'bigint')} + 1 AS n`,
      { name: evil, at: new Date('2024-03-01T12:00:00.5Z'), n: 41 },
      { key: 'bound', outputDir: out.path },
    );
    expect(parseCsv(readFileSync(files[0]!, 'utf8'))).toEqual([
      ['name', 'at', 'n'],
      [evil, '2024-03-01 12:00:00.5+00', '42'],
    ]);
  });

  it('fails with a CollectorError, removes partial parts, and leaves the client usable', async () => {
    const sql = 'SELECT g, 1 / (g - 30000) AS boom, repeat(\'x\', 100) AS pad FROM generate_series(1, 40000) g';
    const err = await copyToCsv(db, sql, {}, { key: 'broken', outputDir: out.path, maxFileSize: 64 * 1024 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CollectorError);
    expect((err as Error).message).toMatch(/^broken: COPY failed: division by zero/);
    expect(readdirSync(out.path)).toEqual([]);
    const { rows } = await db.query<{ ok: number }>('SELECT 1 AS ok');
    expect(rows).toEqual([{ ok: 1 }]);
  });

  it('rejects parameter names that are not plain identifiers', async () => {
    await expect(copyToCsv(db, 'SELECT 1', { 'bad-name': 'x' }, { key: 'k', outputDir: out.path })).rejects.toThrow(/bad-name/);
    expect(() => bound("x') --", 'text')).toThrow(RangeError);
  });
});

describe('JSON-or-YAML host variables', () => {
  const samples: [string, boolean][] = [
    ['{"ansible_host": "10.0.0.1", "ansible_port": 22, "x": null, "y": true, "z": -1.5e3}', true],
    ['{"a": "quote \\" and \\\\ slash", "b": "\\u00e9"}', true],
    ['  { }  ', true],
    ['{"ansible_host": "a\\u0000b"}', false],
    ['{ansible_host: 10.0.0.4}', false],
    ['ansible_host: 10.0.0.2', false],
    ['{"a": 1,}', false],
    ['', false],
  ];

  it.each(['temp-function', 'regex'] as JsonCheck[])('%s agrees with a jsonb cast on flat objects', async (check) => {
    await prepareJsonCheck(db, check);
    for (const [text, valid] of samples) {
      const { rows } = await db.query<{ v: boolean }>(`SELECT ${isJsonSql(check, '$1::text')} AS v`, [text]);
      expect([text, rows[0]!.v]).toEqual([text, valid]);
    }
  });

  it('regex mode treats nested JSON as not-JSON; temp-function mode reads it', async () => {
    const nested = '{"ansible_host": "10.9.9.9", "extra": {"k": [1, 2]}}';
    await prepareJsonCheck(db, 'temp-function');
    const q = (check: JsonCheck) => db.query<{ h: string | null }>(`SELECT ${hostVariableSql(check, '$1::text', 'ansible_host')} AS h`, [nested]);
    expect((await q('temp-function')).rows[0]!.h).toBe('10.9.9.9');
    expect((await q('regex')).rows[0]!.h).toBeNull();
  });

  it('reads YAML `key: value` and `key=value` lines, stripping quotes and trailing blanks', async () => {
    const yaml = 'foo: 1\nansible_host:   "web-1.example.com"   \nansible_connection=local\n';
    const q = async (field: string) =>
      (await db.query<{ v: string | null }>(`SELECT ${hostVariableSql('regex', '$1::text', field)} AS v`, [yaml])).rows[0]!.v;
    expect(await q('ansible_host')).toBe('web-1.example.com');
    expect(await q('ansible_connection')).toBe('local');
    expect(await q('ansible_port')).toBeNull();
    expect(() => hostVariableSql('regex', 'v', "x' OR 1=1")).toThrow(RangeError);
  });
});
