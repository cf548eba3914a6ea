/** A failure injected before a statement: DuckDB running out of memory, or failing for another reason. */
export type InjectedFailure = 'oom' | 'other';

/** A list of 100M integers (800 MB) cannot spill: under a memory_limit well below 800MB DuckDB genuinely runs out, every time. */
export const OUT_OF_MEMORY_SQL = 'SELECT len(list(range)) FROM range(100000000)';
/** A failure that is neither out of memory nor any input's (e.g. the spill disk full), raised by DuckDB itself. */
export const OTHER_FAILURE_SQL = "SELECT error('IO Error: could not write to the temporary directory (injected)')";

interface Statements {
  run(sql: string, params?: unknown[]): Promise<number>;
  all<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

/** What an injected failure met: DuckDB's memory limit then, and the error it raised. */
export interface InjectedOutcome {
  memoryLimit: string;
  error: string;
}

/**
 * `db` (a TallyDuckDb) whose statements matching `at` first run the next of `failures` on the
 * real database, one per matching statement, so the caller meets DuckDB's own error (and its
 * aborted transaction). `failedAt` lists the first capture group (else the match) of each;
 * `outcomes` what each met.
 */
export function failingStatements<D extends Statements>(
  db: D,
  at: RegExp,
  failures: readonly InjectedFailure[],
): D & { failedAt: string[]; outcomes: InjectedOutcome[] } {
  const queue = [...failures];
  const failedAt: string[] = [];
  const outcomes: InjectedOutcome[] = [];
  const before = async (sql: string) => {
    const match = at.exec(sql);
    const next = match ? queue.shift() : undefined;
    if (!match || !next) return;
    failedAt.push(match[1] ?? match[0]);
    const [limit] = await db.all<{ value: string }>(`SELECT value FROM duckdb_settings() WHERE name = 'memory_limit'`);
    try {
      await db.all(next === 'oom' ? OUT_OF_MEMORY_SQL : OTHER_FAILURE_SQL);
    } catch (err) {
      outcomes.push({ memoryLimit: limit?.value ?? '', error: String(err) });
      throw err;
    }
  };
  // Everything else is db's own (a database still opening cannot be copied: its connection is not there yet).
  return Object.assign(Object.create(db) as D, {
    run: async (sql: string, params?: unknown[]) => {
      await before(sql);
      return db.run(sql, params);
    },
    all: async <T>(sql: string, params?: unknown[]) => {
      await before(sql);
      return db.all<T>(sql, params);
    },
    failedAt,
    outcomes,
  });
}

/**
 * `db` (a TallyDuckDb) recording the SQL of every statement it runs (`run` and `all`) in
 * `statements`, in order: for tests asserting what a path reads, and how often.
 */
export function recordingStatements<D extends Statements>(db: D): D & { statements: string[] } {
  const statements: string[] = [];
  // As `failingStatements`: everything else is db's own.
  return Object.assign(Object.create(db) as D, {
    run: async (sql: string, params?: unknown[]) => {
      statements.push(sql);
      return db.run(sql, params);
    },
    all: async <T>(sql: string, params?: unknown[]) => {
      statements.push(sql);
      return db.all<T>(sql, params);
    },
    statements,
  });
}
