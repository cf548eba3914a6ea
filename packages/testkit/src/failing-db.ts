/** A failure injected before a statement: DuckDB running out of memory, or failing for another reason. */
export type InjectedFailure = 'oom' | 'other';

/** A list of 50M integers cannot spill: under a memory_limit well below 400MB DuckDB genuinely runs out, every time. */
export const OUT_OF_MEMORY_SQL = 'SELECT len(list(range)) FROM range(50000000)';
/** A failure that is neither out of memory nor any input's (e.g. the spill disk full), raised by DuckDB itself. */
export const OTHER_FAILURE_SQL = "SELECT error('IO Error: could not write to the temporary directory (injected)')";

interface Statements {
  run(sql: string, params?: unknown[]): Promise<number>;
  all<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

/**
 * `db` (a TallyDuckDb) whose statements matching `at` first run the next of `failures` on the
 * real database, one per matching statement, so the caller meets DuckDB's own error (and its
 * aborted transaction). `failedAt` lists the first capture group (else the match) of each.
 */
export function failingStatements<D extends Statements>(db: D, at: RegExp, failures: readonly InjectedFailure[]): D & { failedAt: string[] } {
  const queue = [...failures];
  const failedAt: string[] = [];
  const before = async (sql: string) => {
    const match = at.exec(sql);
    const next = match ? queue.shift() : undefined;
    if (!match || !next) return;
    failedAt.push(match[1] ?? match[0]);
    await db.all(next === 'oom' ? OUT_OF_MEMORY_SQL : OTHER_FAILURE_SQL);
  };
  return {
    ...db,
    run: async (sql: string, params?: unknown[]) => {
      await before(sql);
      return db.run(sql, params);
    },
    all: async <T>(sql: string, params?: unknown[]) => {
      await before(sql);
      return db.all<T>(sql, params);
    },
    failedAt,
  };
}
