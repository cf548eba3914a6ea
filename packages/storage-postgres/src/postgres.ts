import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ConfigError, type ConfigKey, loadConfig, type Queryable, requireConfig, StorageError, type TallyConfig, errorMessage, parseCsvRows, tempdir } from '@tally/core';
import { type GlobOptions, type LocalFile, type PutSource, type Store, checkName, dateFilter, globPrefix, globToRegExp, putBody, tempLocalFile } from '@tally/storage';
import pg from 'pg';

const BACKEND = 'postgres';

/** How binary objects (tarballs, anything not `.json`/`.csv`) are kept in the JSONB column. */
export interface Base64Value {
  encoding: 'base64';
  data: string;
}

export interface StorageTableOptions {
  /** Table name, `schema.table` allowed (default `storage`; METRICS_UTILITY_STORAGE_TABLE). */
  table?: string;
  keyField?: string;
  valueField?: string;
  /** Column with the last write time; `null` for none (default `updated_at`). */
  timestampField?: string | null;
}

export interface PostgresStorageOptions extends StorageTableOptions {
  /** A pg Pool or Client (or anything Queryable); left open by close(). */
  db?: Queryable;
  /** DATABASE_URL, when no `db` is given: a small pool owned (and closed) by this storage. */
  url?: string;
  /**
   * What `glob` since/until compare: `timestamp` (the timestamp column, as the reference)
   * or `name` (the first stamp in the key, as the file backends). Default: `timestamp`
   * when there is a timestamp column, else `name`.
   */
  dateFilter?: 'timestamp' | 'name';
}

/** `"schema"."table"`: every dot-separated part quoted, embedded quotes doubled. */
export function quoteIdent(name: string, what = 'identifier'): string {
  const parts = name.split('.');
  if (!name || parts.some((p) => p.length === 0)) {
    throw new ConfigError(`storage postgres: ${what} "${name}" is not a valid name; expected e.g. storage or metrics.storage`, { field: what });
  }
  return parts.map((p) => `"${p.replace(/"/g, '""')}"`).join('.');
}

function columns(opts: StorageTableOptions) {
  const tsName = opts.timestampField === undefined ? 'updated_at' : opts.timestampField;
  return {
    tableName: opts.table || 'storage',
    table: quoteIdent(opts.table || 'storage', 'table'),
    key: quoteIdent(opts.keyField ?? 'key', 'key field'),
    value: quoteIdent(opts.valueField ?? 'value', 'value field'),
    tsName,
    ts: tsName === null ? null : quoteIdent(tsName, 'timestamp field'),
  };
}

/**
 * Create the key → JSONB table (and its timestamp index) if missing:
 * key TEXT PRIMARY KEY, value JSONB NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now().
 */
export async function createStorageTable(db: Queryable, opts: StorageTableOptions = {}): Promise<void> {
  const c = columns(opts);
  const tsCol = c.ts ? `, ${c.ts} TIMESTAMPTZ NOT NULL DEFAULT now()` : '';
  await db.query(`CREATE TABLE IF NOT EXISTS ${c.table} (${c.key} TEXT PRIMARY KEY, ${c.value} JSONB NOT NULL${tsCol})`);
  if (c.ts && c.tsName) {
    const bare = c.tableName.split('.').pop()!;
    await db.query(`CREATE INDEX IF NOT EXISTS ${quoteIdent(`${bare}_${c.tsName}_idx`)} ON ${c.table} (${c.ts})`);
  }
}

function isBase64Value(v: unknown): v is Base64Value {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  return Object.keys(o).length === 2 && o.encoding === 'base64' && typeof o.data === 'string';
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, '\\$&');
}

/**
 * A key → JSONB table. Dicts are stored as they are; `.json` objects parsed;
 * `.csv` objects as a list of row objects (string values, empty → null); every
 * other object (tarballs…) as `{"encoding":"base64","data":…}` so `get()` gives
 * the exact bytes back. `get()` writes a temp file: the bytes for base64 values,
 * JSON text otherwise.
 */
/** The settings the PostgreSQL backend reads: DATABASE_URL and METRICS_UTILITY_STORAGE_TABLE. */
const SETTINGS = ['databaseUrl', 'storageTable'] as const satisfies readonly ConfigKey[];

export class PostgresStorage implements Store {
  readonly backend = BACKEND;
  private readonly db: Queryable;
  private readonly pool?: pg.Pool;
  private readonly cols: ReturnType<typeof columns>;
  private readonly byTimestamp: boolean;
  private readonly opts: PostgresStorageOptions;

  /** From DATABASE_URL (required) and METRICS_UTILITY_STORAGE_TABLE in `env`; a pool this storage owns. */
  static fromEnv(env: Record<string, string | undefined>, extra: Partial<PostgresStorageOptions> = {}): PostgresStorage {
    return PostgresStorage.fromConfig(loadConfig({ env, keys: SETTINGS }), extra);
  }

  /** From `loadConfig()` values (environment and config file, as the CLI reads them). */
  static fromConfig(cfg: Pick<TallyConfig, (typeof SETTINGS)[number]>, extra: Partial<PostgresStorageOptions> = {}): PostgresStorage {
    const c = requireConfig(cfg, ['databaseUrl'], 'METRICS_UTILITY_SHIP_TARGET=postgres');
    return new PostgresStorage({ url: c.databaseUrl, ...(cfg.storageTable ? { table: cfg.storageTable } : {}), ...extra });
  }

  constructor(opts: PostgresStorageOptions) {
    if (!opts.db && !opts.url) throw new ConfigError('storage postgres: no database; set DATABASE_URL', { field: 'DATABASE_URL' });
    this.opts = opts;
    this.cols = columns(opts);
    if (opts.dateFilter === 'timestamp' && !this.cols.ts) {
      throw new ConfigError('storage postgres: dateFilter "timestamp" needs a timestamp field', { field: 'timestampField' });
    }
    this.byTimestamp = (opts.dateFilter ?? (this.cols.ts ? 'timestamp' : 'name')) === 'timestamp';
    if (opts.db) this.db = opts.db;
    else {
      this.pool = new pg.Pool({ connectionString: opts.url, max: 2 });
      // An idle client losing its connection must not crash the process; the next query reports it.
      this.pool.on('error', () => {});
      this.db = this.pool;
    }
  }

  private async q<R = Record<string, unknown>>(op: string, name: string, sql: string, values: unknown[]): Promise<R[]> {
    try {
      return (await this.db.query<R>(sql, values)).rows;
    } catch (err) {
      const hint = (err as { code?: string }).code === '42P01' ? ` (create it with createStorageTable)` : '';
      throw new StorageError(BACKEND, `${op} ${name} in table ${this.cols.tableName} failed: ${errorMessage(err)}${hint}`, { cause: err });
    }
  }

  private async valueOf(name: string, source: PutSource): Promise<unknown> {
    const body = await putBody(BACKEND, name, source, { replayable: false });
    if (body.kind === 'dict') return body.dict;
    let bytes: Buffer;
    try {
      bytes = await body.bytes();
    } catch (err) {
      throw new StorageError(BACKEND, `put ${name} failed reading the source: ${errorMessage(err)}`, { cause: err });
    }
    const lower = name.toLowerCase();
    try {
      if (lower.endsWith('.json')) return JSON.parse(bytes.toString('utf8'));
      if (lower.endsWith('.csv')) return parseCsvRows(bytes.toString('utf8'));
    } catch (err) {
      throw new StorageError(BACKEND, `put ${name}: content is not valid ${lower.endsWith('.csv') ? 'CSV' : 'JSON'}: ${errorMessage(err)}`, { cause: err });
    }
    return { encoding: 'base64', data: bytes.toString('base64') } satisfies Base64Value;
  }

  async put(name: string, source: PutSource): Promise<void> {
    checkName(BACKEND, name);
    const value = await this.valueOf(name, source);
    const { table, key, value: val, ts } = this.cols;
    const json = JSON.stringify(value ?? null);
    const sql = ts
      ? `INSERT INTO ${table} (${key}, ${val}, ${ts}) VALUES ($1, $2::jsonb, now()) ON CONFLICT (${key}) DO UPDATE SET ${val} = EXCLUDED.${val}, ${ts} = EXCLUDED.${ts}`
      : `INSERT INTO ${table} (${key}, ${val}) VALUES ($1, $2::jsonb) ON CONFLICT (${key}) DO UPDATE SET ${val} = EXCLUDED.${val}`;
    await this.q('put', name, sql, [name, json]);
  }

  /** Create the table (and index) if missing; see `createStorageTable`. */
  async ensureTable(): Promise<void> {
    try {
      await createStorageTable(this.db, this.opts);
    } catch (err) {
      throw new StorageError(BACKEND, `cannot create table ${this.cols.tableName}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** The stored value (parsed JSONB), or undefined when there is no such key. */
  async getData(name: string): Promise<unknown> {
    checkName(BACKEND, name);
    const rows = await this.q<{ v: unknown }>('get', name, `SELECT ${this.cols.value} AS v FROM ${this.cols.table} WHERE ${this.cols.key} = $1`, [name]);
    return rows.length ? rows[0]!.v : undefined;
  }

  async get(name: string): Promise<LocalFile> {
    const value = await this.getData(name);
    if (value === undefined) throw new StorageError(BACKEND, `get ${name}: no such key in table ${this.cols.tableName}`);
    const dir = await tempdir('tally-pg-get');
    const path = join(dir.path, basename(name));
    try {
      await writeFile(path, isBase64Value(value) ? Buffer.from(value.data, 'base64') : JSON.stringify(value));
    } catch (err) {
      await dir.remove();
      throw new StorageError(BACKEND, `get ${name}: cannot write a local copy: ${errorMessage(err)}`, { cause: err });
    }
    return tempLocalFile(path, dir);
  }

  async exists(name: string): Promise<boolean> {
    checkName(BACKEND, name);
    const rows = await this.q('exists', name, `SELECT 1 FROM ${this.cols.table} WHERE ${this.cols.key} = $1`, [name]);
    return rows.length > 0;
  }

  async remove(name: string): Promise<void> {
    checkName(BACKEND, name);
    await this.q('remove', name, `DELETE FROM ${this.cols.table} WHERE ${this.cols.key} = $1`, [name]);
  }

  /** fnmatch on the key (`*` crosses `/`); since/until on the timestamp column or the name's stamp (see `dateFilter`). */
  async glob(pattern: string, opts: GlobOptions = {}): Promise<string[]> {
    checkName(BACKEND, pattern);
    const re = globToRegExp(pattern, false);
    const { table, key, ts } = this.cols;
    const where = [`${key} LIKE $1`];
    const values: unknown[] = [`${escapeLike(globPrefix(pattern))}%`];
    if (this.byTimestamp && ts) {
      if (opts.since) {
        values.push(opts.since);
        where.push(`${ts} >= $${values.length}`);
      }
      if (opts.until) {
        values.push(opts.until);
        where.push(`${ts} < $${values.length}`);
      }
    }
    const rows = await this.q<{ k: string }>('glob', pattern, `SELECT ${key} AS k FROM ${table} WHERE ${where.join(' AND ')} ORDER BY 1`, values);
    return rows
      .map((r) => r.k)
      .filter((k) => re.test(k) && (this.byTimestamp || dateFilter(k, opts)))
      .sort();
  }

  describe(): Record<string, unknown> {
    let database: string | undefined;
    if (this.opts.url) {
      try {
        const u = new URL(this.opts.url);
        database = `${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
      } catch {
        database = undefined;
      }
    }
    return { backend: BACKEND, table: this.cols.tableName, ...(database ? { database } : {}) };
  }

  async close(): Promise<void> {
    await this.pool?.end();
  }
}
