import type { Queryable } from './db.js';
import { ConfigError } from './errors.js';

export interface LockOptions {
  /** Block until the lock is free (default false: try once and return at once). */
  wait?: boolean;
}

async function lockId(db: Queryable, key: string): Promise<string> {
  if (typeof key !== 'string' || key.length === 0) throw new ConfigError(`Cannot use ${String(key)} as a lock id`);
  // The key is a bound parameter: it never appears in the SQL text.
  const { rows } = await db.query<{ id: string }>('SELECT hashtext($1)::bigint AS id', [key]);
  return String(rows[0]!.id);
}

/**
 * Run `fn` holding the session-level advisory lock `hashtext(key)` on `db`.
 * `fn` receives whether the lock was acquired (always true with `wait`); the
 * lock is released afterwards, also when `fn` throws.
 */
export async function withLock<T>(
  db: Queryable,
  key: string,
  fn: (acquired: boolean) => Promise<T>,
  opts: LockOptions = {},
): Promise<T> {
  const id = await lockId(db, key);
  let acquired: boolean;
  if (opts.wait) {
    await db.query('SELECT pg_advisory_lock($1::bigint)', [id]);
    acquired = true;
  } else {
    const { rows } = await db.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [id]);
    acquired = rows[0]!.ok === true;
  }
  try {
    return await fn(acquired);
  } finally {
    if (acquired) await db.query('SELECT pg_advisory_unlock($1::bigint)', [id]);
  }
}

/** A lock this process holds until `release()` (idempotent) or disposal. */
export interface HeldLock extends AsyncDisposable {
  release(): Promise<void>;
}

/**
 * Where "one at a time" is enforced for a key: a PostgreSQL advisory lock
 * ({@link advisoryLock}) or an exclusive lock file ({@link fileLock}).
 */
export interface ClusterLock {
  /** What holds `key`, for messages, e.g. `advisory lock "tally_gather"`. */
  describe(key: string): string;
  /** The lock, or `undefined` at once when another process holds it. */
  acquire(key: string): Promise<HeldLock | undefined>;
}

/** Advisory locks on `db`'s session: every process using the same database sees them. */
export function advisoryLock(db: Queryable): ClusterLock {
  return {
    describe: (key) => `advisory lock "${key}"`,
    acquire: (key) => lock(db, key),
  };
}

/** Acquire the lock and return a disposable handle, or `undefined` when another session holds it. */
export async function lock(db: Queryable, key: string, opts: LockOptions = {}): Promise<HeldLock | undefined> {
  const id = await lockId(db, key);
  if (opts.wait) {
    await db.query('SELECT pg_advisory_lock($1::bigint)', [id]);
  } else {
    const { rows } = await db.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [id]);
    if (rows[0]!.ok !== true) return undefined;
  }
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await db.query('SELECT pg_advisory_unlock($1::bigint)', [id]);
  };
  return { release, [Symbol.asyncDispose]: release };
}
