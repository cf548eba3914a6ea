import { type AccessAttempt, accessError, type Queryable } from '@tally/core';

/** OSIDB's run states: PENDING (never ran) → BLOCKED (dependencies incomplete) → READY ⇄ RUNNING. */
export type RunState = 'PENDING' | 'BLOCKED' | 'READY' | 'RUNNING';
/** Completeness of a collector's data; only moves forward EMPTY → PARTIAL → COMPLETE for a given watermark. */
export type DataState = 'EMPTY' | 'PARTIAL' | 'COMPLETE';

export interface ScheduledCollector {
  key: string;
  cron: string;
  dependsOn: string[];
  enabled: boolean;
  /** A user collector run from its files (as `tally collect`) instead of a built-in gather. */
  collect?: UserCollector;
}

/** The files of a scheduled user collector, resolved against the schedule file's folder. */
export interface UserCollector {
  query: string;
  target: string;
  credentials?: string;
  token?: string;
  /** Start of the first run, before the collector has a watermark (Nd, Nm, Nmo and their long spellings, or ISO); later runs start at the watermark. */
  since?: string;
}

export interface ScheduleRow extends ScheduledCollector {
  runState: RunState;
  dataState: DataState;
  watermark: Date | null;
  runner: string | null;
  leaseUntil: Date | null;
  heartbeatAt: Date | null;
  lastRunAt: Date | null;
  lastSuccessAt: Date | null;
  lastError: string;
  consecutiveFailures: number;
}

export const SCHEDULE_TABLE = 'tally_schedule_state';

/**
 * One row per collector. Unlike OSIDB the declared schedule (cron, dependencies,
 * enabled) is refreshed on every start, so a changed configuration is never stale.
 */
const DDL = `
CREATE TABLE IF NOT EXISTS ${SCHEDULE_TABLE} (
  collector text PRIMARY KEY,
  cron text NOT NULL,
  depends_on text[] NOT NULL DEFAULT '{}',
  enabled boolean NOT NULL DEFAULT true,
  run_state text NOT NULL DEFAULT 'PENDING' CHECK (run_state IN ('PENDING', 'BLOCKED', 'READY', 'RUNNING')),
  data_state text NOT NULL DEFAULT 'EMPTY' CHECK (data_state IN ('EMPTY', 'PARTIAL', 'COMPLETE')),
  watermark timestamptz,
  runner text,
  lease_until timestamptz,
  heartbeat_at timestamptz,
  last_run_at timestamptz,
  last_success_at timestamptz,
  last_error text NOT NULL DEFAULT '',
  consecutive_failures integer NOT NULL DEFAULT 0
)`;

interface RawRow {
  collector: string;
  cron: string;
  depends_on: string[];
  enabled: boolean;
  run_state: RunState;
  data_state: DataState;
  watermark: Date | string | null;
  runner: string | null;
  lease_until: Date | string | null;
  heartbeat_at: Date | string | null;
  last_run_at: Date | string | null;
  last_success_at: Date | string | null;
  last_error: string;
  consecutive_failures: number;
}

const date = (v: Date | string | null): Date | null => (v === null ? null : v instanceof Date ? v : new Date(v));

function toRow(r: RawRow): ScheduleRow {
  return {
    key: r.collector,
    cron: r.cron,
    dependsOn: r.depends_on ?? [],
    enabled: r.enabled,
    runState: r.run_state,
    dataState: r.data_state,
    watermark: date(r.watermark),
    runner: r.runner,
    leaseUntil: date(r.lease_until),
    heartbeatAt: date(r.heartbeat_at),
    lastRunAt: date(r.last_run_at),
    lastSuccessAt: date(r.last_success_at),
    lastError: r.last_error,
    consecutiveFailures: Number(r.consecutive_failures),
  };
}

export async function ensureScheduleTable(db: Queryable): Promise<void> {
  // CREATE … IF NOT EXISTS still needs CREATE on the schema and a writable server: look first.
  const { rows } = await db.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [SCHEDULE_TABLE]);
  if (!rows[0]?.t) await db.query(DDL);
}

/** Insert or refresh the declared schedule; run and data state are kept. */
export async function declareCollectors(db: Queryable, collectors: readonly ScheduledCollector[]): Promise<void> {
  for (const c of collectors) {
    await db.query(
      `INSERT INTO ${SCHEDULE_TABLE} (collector, cron, depends_on, enabled) VALUES ($1, $2, $3, $4)
       ON CONFLICT (collector) DO UPDATE SET cron = EXCLUDED.cron, depends_on = EXCLUDED.depends_on, enabled = EXCLUDED.enabled`,
      [c.key, c.cron, c.dependsOn, c.enabled],
    );
  }
}

/** All rows, or `undefined` when no runner ever created the table. */
export async function readSchedule(db: Queryable): Promise<ScheduleRow[] | undefined> {
  const { rows: exists } = await db.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [SCHEDULE_TABLE]);
  if (!exists[0]?.t) return undefined;
  const { rows } = await db.query<RawRow>(`SELECT * FROM ${SCHEDULE_TABLE} ORDER BY collector`);
  return rows.map(toRow);
}

/**
 * Claim a collector for `runner`: succeeds when nobody runs it, when the
 * runner that did stopped heart-beating (its lease expired: it crashed or lost
 * its connection), or when it is `runner` itself (a run cut off by a lost
 * connection; a runner runs one collector at a time, so that run is over).
 * Lease times use the database clock, never the runners'.
 */
export async function claim(db: Queryable, key: string, runner: string, leaseSeconds: number): Promise<ScheduleRow | undefined> {
  const { rows } = await db.query<RawRow>(
    `UPDATE ${SCHEDULE_TABLE}
        SET run_state = 'RUNNING', runner = $2, lease_until = now() + make_interval(secs => $3), heartbeat_at = now()
      WHERE collector = $1 AND enabled AND (run_state <> 'RUNNING' OR lease_until IS NULL OR lease_until < now() OR runner = $2)
      RETURNING *`,
    [key, runner, leaseSeconds],
  );
  return rows[0] ? toRow(rows[0]) : undefined;
}

/** Extend the lease while the collector runs; false when another runner took it over. */
export async function heartbeat(db: Queryable, key: string, runner: string, leaseSeconds: number): Promise<boolean> {
  const { rows } = await db.query(
    `UPDATE ${SCHEDULE_TABLE} SET lease_until = now() + make_interval(secs => $3), heartbeat_at = now()
      WHERE collector = $1 AND runner = $2 AND run_state = 'RUNNING' RETURNING collector`,
    [key, runner, leaseSeconds],
  );
  return rows.length > 0;
}

/** Record that the collector was due but its dependencies' data is not complete for the window. */
export async function markBlocked(db: Queryable, key: string, runner: string, reason: string, at: Date): Promise<void> {
  await db.query(
    `UPDATE ${SCHEDULE_TABLE} SET run_state = 'BLOCKED', runner = NULL, lease_until = NULL, last_run_at = $3, last_error = $4
      WHERE collector = $1 AND runner = $2`,
    [key, runner, at, reason],
  );
}

export async function markStarted(db: Queryable, key: string, runner: string, at: Date): Promise<void> {
  await db.query(`UPDATE ${SCHEDULE_TABLE} SET last_run_at = $3 WHERE collector = $1 AND runner = $2`, [key, runner, at]);
}

/**
 * A clean run: the watermark only moves forward and the data state follows it
 * (COMPLETE when the run reached its target, PARTIAL when it was capped).
 */
export async function markSucceeded(
  db: Queryable,
  key: string,
  runner: string,
  result: { watermark: Date; complete: boolean },
): Promise<void> {
  await db.query(
    `UPDATE ${SCHEDULE_TABLE}
        SET run_state = 'READY', runner = NULL, lease_until = NULL, last_success_at = now(), last_error = '',
            consecutive_failures = 0,
            watermark = GREATEST(watermark, $3::timestamptz),
            data_state = CASE WHEN $4 THEN 'COMPLETE' ELSE 'PARTIAL' END
      WHERE collector = $1 AND runner = $2`,
    [key, runner, result.watermark, result.complete],
  );
}

export async function markFailed(db: Queryable, key: string, runner: string, error: string): Promise<void> {
  await db.query(
    `UPDATE ${SCHEDULE_TABLE}
        SET run_state = 'READY', runner = NULL, lease_until = NULL, last_error = $3,
            consecutive_failures = consecutive_failures + 1
      WHERE collector = $1 AND runner = $2`,
    [key, runner, error],
  );
}

/** The scheduler's run state, wherever it is kept: the functions above on a database, or a file (schedule-file.ts). */
export interface ScheduleStore {
  ensure(): Promise<void>;
  declare(collectors: readonly ScheduledCollector[]): Promise<void>;
  read(): Promise<ScheduleRow[] | undefined>;
  claim(key: string, runner: string, leaseSeconds: number): Promise<ScheduleRow | undefined>;
  heartbeat(key: string, runner: string, leaseSeconds: number): Promise<boolean>;
  markBlocked(key: string, runner: string, reason: string, at: Date): Promise<void>;
  markStarted(key: string, runner: string, at: Date): Promise<void>;
  markSucceeded(key: string, runner: string, result: { watermark: Date; complete: boolean }): Promise<void>;
  markFailed(key: string, runner: string, error: string): Promise<void>;
}

/**
 * The run state in the `tally_schedule_state` table of `db`. A missing privilege
 * or a read-only server is one line naming the table and the operation; `where`
 * names the database and `elsewhere` the way round it.
 */
export function postgresScheduleStore(db: Queryable, access: { where?: string; elsewhere?: string } = {}): ScheduleStore {
  const as =
    <A extends unknown[], R>(operation: AccessAttempt['operation'], fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await fn(...args);
      } catch (err) {
        const where = access.where ?? 'the state database';
        throw accessError(err, { operation, object: `table ${SCHEDULE_TABLE}`, where, ...(access.elsewhere ? { elsewhere: access.elsewhere } : {}) }) ?? err;
      }
    };
  return {
    ensure: as('create', () => ensureScheduleTable(db)),
    declare: as('write', (collectors: readonly ScheduledCollector[]) => declareCollectors(db, collectors)),
    read: as('read', () => readSchedule(db)),
    claim: as('write', (key: string, runner: string, lease: number) => claim(db, key, runner, lease)),
    heartbeat: as('write', (key: string, runner: string, lease: number) => heartbeat(db, key, runner, lease)),
    markBlocked: as('write', (key: string, runner: string, reason: string, at: Date) => markBlocked(db, key, runner, reason, at)),
    markStarted: as('write', (key: string, runner: string, at: Date) => markStarted(db, key, runner, at)),
    markSucceeded: as('write', (key: string, runner: string, result: { watermark: Date; complete: boolean }) => markSucceeded(db, key, runner, result)),
    markFailed: as('write', (key: string, runner: string, error: string) => markFailed(db, key, runner, error)),
  };
}
