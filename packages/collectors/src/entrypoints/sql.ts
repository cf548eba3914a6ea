import { readFileSync } from 'node:fs';
import { CollectorError, errorMessage, registerSecret } from '@tally/core';
import pg from 'pg';
import type { DataRecord, EntrypointArgs } from './types.js';

const NAME = 'tally:sql';

/**
 * The highest `$N` placeholder in `sql`, ignoring string literals, quoted identifiers,
 * dollar-quoted bodies and comments (a `$1` inside them is text, not a parameter).
 */
export function highestPlaceholder(sql: string): number {
  let max = 0;
  for (let i = 0; i < sql.length; ) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === "'" || c === '"') {
      const end = sql.indexOf(c, i + 1);
      i = end < 0 ? sql.length : end + 1; // a doubled quote simply re-enters the same state
    } else if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
    } else if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else if (c === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      const num = /^\$(\d+)/.exec(sql.slice(i));
      if (num && !(i > 0 && /[A-Za-z0-9_]/.test(sql[i - 1]!))) {
        max = Math.max(max, Number(num[1]));
        i += num[0].length;
      } else if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        i = end < 0 ? sql.length : end + tag[0].length;
      } else i++;
    } else i++;
  }
  return max;
}

interface SqlCredentials {
  url: string;
  password?: string;
  caCertPath?: string;
}

function credentialsOf(raw: Record<string, unknown>): SqlCredentials {
  const fail = (m: string) => new CollectorError(NAME, `credentials: ${m}`);
  const { url, password, caCertPath } = raw;
  if (typeof url !== 'string' || url === '') throw fail('"url" is required: postgres://user@host:5432/database');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw fail('"url" is not a URL (expected postgres://user@host:5432/database)');
  }
  if (!/^postgres(ql)?:$/.test(u.protocol)) throw fail(`"url" must be a postgres:// URL (got ${u.protocol}//…)`);
  if (u.password) registerSecret(decodeURIComponent(u.password));
  if (password !== undefined && typeof password !== 'string') throw fail('"password" must be a string');
  if (caCertPath !== undefined && typeof caCertPath !== 'string') throw fail('"caCertPath" must be a file path');
  registerSecret(password as string | undefined);
  return { url, ...(password ? { password } : {}), ...(caCertPath ? { caCertPath } : {}) };
}

/**
 * `date` and `timestamp` (without time zone) stay as PostgreSQL prints them: node-postgres would read
 * them in the process's local zone and shift the instant. `timestamptz` becomes a Date (ISO, UTC in JSON).
 */
const DATE_OID = 1082;
const TIMESTAMP_OID = 1114;
const rawZoneless = ((oid: number, format?: 'text' | 'binary') =>
  oid === DATE_OID || oid === TIMESTAMP_OID ? (v: string) => v : pg.types.getTypeParser(oid, format ?? 'text')) as pg.CustomTypesConfig['getTypeParser'];

/** The query file's `query`: the SQL text, `$1` = since and `$2` = until. */
function sqlOf(query: unknown): string {
  const sql = typeof query === 'string' ? query : (query as { sql?: unknown } | null)?.sql;
  if (typeof sql !== 'string' || sql.trim() === '') {
    throw new CollectorError(NAME, 'query must be the SQL text (or {"sql": "…"}), with $1 for since and $2 for until');
  }
  return sql.trim().replace(/;\s*$/, '');
}

/** Bind `since`/`until` as far as the query uses them; a missing one it needs is an error naming it. */
export function sqlParameters(sql: string, since: Date | undefined, until: Date | undefined): Date[] {
  const n = highestPlaceholder(sql);
  if (n > 2) throw new CollectorError(NAME, `query uses $${n}; only $1 (since) and $2 (until) are bound`);
  const values: Date[] = [];
  for (const [i, name, v] of [[1, 'since', since], [2, 'until', until]] as const) {
    if (n < i) break;
    if (!v) throw new CollectorError(NAME, `query uses $${i} (${name}) but no ${name} was given (--${name}, or the schedule's watermark)`);
    values.push(v);
  }
  return values;
}

/**
 * The built-in SQL entrypoint: the query runs in a READ ONLY transaction through a
 * server-side cursor, fetched `fetchSize` rows at a time (bounded memory at any row
 * count), with since and until bound as parameters, never pasted into the text.
 */
export async function* sqlMain(args: EntrypointArgs): AsyncGenerator<DataRecord> {
  const creds = credentialsOf(args.credentials);
  const sql = sqlOf(args.query);
  const params = sqlParameters(sql, args.since, args.until);
  const fetchSize = args.options.fetchSize ?? 1000;
  if (!Number.isInteger(fetchSize) || (fetchSize as number) < 1) throw new CollectorError(NAME, `options.fetchSize must be a whole number ≥ 1 (got ${String(fetchSize)})`);
  let ssl: pg.ClientConfig['ssl'];
  if (creds.caCertPath) {
    try {
      ssl = { ca: readFileSync(creds.caCertPath, 'utf8'), rejectUnauthorized: true };
    } catch (err) {
      throw new CollectorError(NAME, `credentials: caCertPath ${creds.caCertPath}: ${errorMessage(err)}`);
    }
  }
  const client = new pg.Client({
    connectionString: creds.url,
    types: { getTypeParser: rawZoneless },
    application_name: 'tally collect',
    ...(creds.password ? { password: creds.password } : {}),
    ...(ssl ? { ssl } : {}),
  });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    const u = new URL(creds.url);
    throw new CollectorError(NAME, `cannot connect to ${u.hostname}:${u.port || 5432}${u.pathname}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    await client.query("BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL TimeZone = 'UTC'");
    const query = async <R extends DataRecord>(text: string, values?: unknown[]) => {
      try {
        return await client.query<R>(text, values);
      } catch (err) {
        throw new CollectorError(NAME, `query failed: ${errorMessage(err)}`, { cause: err });
      }
    };
    await query(`DECLARE tally_collect NO SCROLL CURSOR FOR ${sql}`, params);
    for (;;) {
      if (args.signal?.aborted) throw new CollectorError(NAME, 'aborted');
      const { rows } = await query<DataRecord>(`FETCH ${fetchSize} FROM tally_collect`);
      for (const r of rows) yield r;
      if (rows.length < (fetchSize as number)) break;
    }
    await client.query('COMMIT');
  } finally {
    await client.end().catch(() => {});
  }
}
