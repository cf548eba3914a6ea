import { AccessError, accessError, ConfigError, type Queryable } from '@tally/core';
import type { CollectorStatus, RunOutcome, StateStore } from './state.js';

export const DEFAULT_STATE_TABLE = 'tally_gather_state';

export interface PostgresStateStoreOptions {
  /** Table name (a plain identifier, default `tally_gather_state`), created when missing. */
  table?: string;
  /** The database, for messages (default `the state database`), e.g. `the controller database`. */
  where?: string;
  /** The way around a missing privilege, appended to its message, e.g. `keep state elsewhere with --state-db`. */
  elsewhere?: string;
}

type Operation = 'create' | 'read' | 'write';

interface Row {
  key: string;
  watermark: Date | null;
  last_run_at: Date | null;
  last_success_at: Date | null;
  last_error_at: Date | null;
  last_error: string | null;
  consecutive_failures: number;
}

/**
 * Watermarks and run status in a table of the Tally state database (the
 * controller database or another one). Every write is a single statement, so
 * advancing several keys is atomic.
 */
export class PostgresStateStore implements StateStore {
  readonly kind = 'postgres';
  private readonly db: Queryable;
  private readonly table: string;
  private readonly name: string;
  private readonly where: string;
  private readonly elsewhere: string | undefined;
  private ready = false;

  constructor(db: Queryable, opts: PostgresStateStoreOptions = {}) {
    const table = opts.table ?? DEFAULT_STATE_TABLE;
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(table)) {
      throw new ConfigError(`state table "${table}" is not a plain identifier (letters, digits, _)`, { field: 'stateTable' });
    }
    this.db = db;
    this.name = table;
    this.table = `"${table}"`;
    this.where = opts.where ?? 'the state database';
    this.elsewhere = opts.elsewhere;
  }

  private async run<R extends Record<string, unknown>>(op: Operation, sql: string, params?: unknown[]): Promise<R[]> {
    try {
      return (await this.db.query<R>(sql, params)).rows;
    } catch (err) {
      throw (
        accessError(err, {
          operation: op,
          object: `table ${this.name}`,
          where: this.where,
          ...(this.elsewhere ? { elsewhere: this.elsewhere } : {}),
        }) ?? err
      );
    }
  }

  /** Whether the table exists; reads never create it, so a read-only role can read a store that is not there. */
  private async exists(): Promise<boolean> {
    if (this.ready) return true;
    const rows = await this.run<{ t: string | null }>('read', 'SELECT to_regclass($1)::text AS t', [this.table]);
    return Boolean(rows[0]?.t);
  }

  async init(): Promise<void> {
    if (this.ready) return;
    // CREATE … IF NOT EXISTS still needs CREATE on the schema and a writable server: look first.
    if (await this.exists()) {
      this.ready = true;
      return;
    }
    try {
      await this.run(
        'create',
        `CREATE TABLE IF NOT EXISTS ${this.table} (
          key text PRIMARY KEY,
          watermark timestamptz,
          last_run_at timestamptz,
          last_success_at timestamptz,
          last_error_at timestamptz,
          last_error text,
          consecutive_failures integer NOT NULL DEFAULT 0
        )`,
      );
    } catch (err) {
      if (err instanceof AccessError) throw err;
      // Two first runs racing on CREATE TABLE IF NOT EXISTS: the loser sees a duplicate; the table exists.
      const code = (err as { code?: string }).code;
      if (code !== '23505' && code !== '42P07') throw err;
    }
    this.ready = true;
  }

  async watermarks(): Promise<Map<string, Date>> {
    if (!(await this.exists())) return new Map();
    const rows = await this.run<{ key: string; watermark: Date }>('read', `SELECT key, watermark FROM ${this.table} WHERE watermark IS NOT NULL`);
    return new Map(rows.map((r) => [r.key, new Date(r.watermark)]));
  }

  async advance(marks: ReadonlyMap<string, Date>): Promise<void> {
    if (marks.size === 0) return;
    await this.init();
    const keys = [...marks.keys()];
    const times = keys.map((k) => marks.get(k)!.toISOString());
    await this.run(
      'write',
      `INSERT INTO ${this.table} AS t (key, watermark)
       SELECT * FROM unnest($1::text[], $2::timestamptz[])
       ON CONFLICT (key) DO UPDATE SET watermark = GREATEST(t.watermark, EXCLUDED.watermark)`,
      [keys, times],
    );
  }

  async recordRun(key: string, outcome: RunOutcome): Promise<void> {
    await this.init();
    if (outcome.ok) {
      await this.run(
        'write',
        `INSERT INTO ${this.table} AS t (key, last_run_at, last_success_at, consecutive_failures) VALUES ($1, $2, $2, 0)
         ON CONFLICT (key) DO UPDATE SET last_run_at = $2, last_success_at = $2, consecutive_failures = 0`,
        [key, outcome.at.toISOString()],
      );
    } else {
      await this.run(
        'write',
        `INSERT INTO ${this.table} AS t (key, last_run_at, last_error_at, last_error, consecutive_failures) VALUES ($1, $2, $2, $3, 1)
         ON CONFLICT (key) DO UPDATE SET last_run_at = $2, last_error_at = $2, last_error = $3,
           consecutive_failures = t.consecutive_failures + 1`,
        [key, outcome.at.toISOString(), outcome.error],
      );
    }
  }

  async statuses(): Promise<CollectorStatus[]> {
    if (!(await this.exists())) return [];
    const rows = await this.run<Row & Record<string, unknown>>('read', `SELECT * FROM ${this.table} ORDER BY key`);
    return rows.map((r) => {
      const s: CollectorStatus = { key: r.key, consecutiveFailures: Number(r.consecutive_failures) };
      if (r.watermark) s.watermark = new Date(r.watermark);
      if (r.last_run_at) s.lastRunAt = new Date(r.last_run_at);
      if (r.last_success_at) s.lastSuccessAt = new Date(r.last_success_at);
      if (r.last_error_at) s.lastErrorAt = new Date(r.last_error_at);
      if (r.last_error !== null) s.lastError = r.last_error;
      return s;
    });
  }
}
