import type * as DuckDbApi from '@duckdb/node-api';
import type { DuckDBConnection, DuckDBInstance, DuckDBValue } from '@duckdb/node-api';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { errorMessage, tempdir, type TempDir } from '@tally/core';

export interface DuckDbOptions {
  /** DuckDB `memory_limit`, e.g. `'768MB'` (default `'384MB'`; the CLI passes TALLY_DUCKDB_MEMORY_LIMIT). */
  memoryLimit?: string;
  /** DuckDB `threads` (default 2; the CLI passes TALLY_DUCKDB_THREADS). */
  threads?: number;
  /** Where DuckDB may spill; default a private temp directory removed on close. */
  tempDirectory?: string;
  /**
   * Keep tables in a database file inside the private temp directory instead of memory
   * (default false). Not needed for bounded memory: an in-memory database also spills table
   * blocks to `tempDirectory` beyond `memoryLimit`; but every commit then pays a WAL fsync.
   */
  onDisk?: boolean;
}

/** One private DuckDB database (in memory by default, spilling to a temp dir) with extension auto-install/auto-load off and `TimeZone=UTC`. */
export interface TallyDuckDb extends AsyncDisposable {
  /** Settles once the database is open (`startDuckDb`); rejects with why it could not be. */
  readonly opened: Promise<void>;
  /** The instance and connection, once `opened` has settled (before, reading them throws). */
  readonly instance: DuckDBInstance;
  readonly connection: DuckDBConnection;
  /** Run a statement; `params` are bound ($1, $2 …), never interpolated. Returns rows changed. */
  run(sql: string, params?: unknown[]): Promise<number>;
  /** Run a query and return rows as plain JS objects (see `toJs` for the value mapping). */
  all<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /**
   * Run a query and return rows as arrays of JS values (as `all`; a BLOB as a Uint8Array),
   * converted one chunk at a time: a 100k-row sheet's result is never held as row objects too.
   */
  rows(sql: string, params?: unknown[]): Promise<unknown[][]>;
  /** A unique table name with the given prefix. */
  tableName(prefix: string): string;
  /**
   * The same database on a second connection: its statements run in their own order, at the
   * same time as this connection's (one statement rarely keeps DuckDB's threads busy). It sees
   * what this connection committed, and this one sees its tables once its statement has settled;
   * temp tables and a failed transaction stay its own. Opened on first use, closed with the
   * database (after its statements).
   */
  readonly beside: DuckDbStatements;
  close(): Promise<void>;
}

/** Statements on one connection of a database (`TallyDuckDb`, `TallyDuckDb.beside`). */
export type DuckDbStatements = Pick<TallyDuckDb, 'run' | 'all' | 'rows'>;

/**
 * The binding is CommonJS, loaded with `require`: an ESM `import` of it makes Node's ESM loader
 * also lex every file its index re-exports (cjs-module-lexer, ~120 of them) and cost 2–2.5× the
 * CPU of `require` (measured 380–480 against 150–200 CPU-ms on a busy host), at every start.
 */
const { DuckDBBlobVector, DuckDBInstance: Instance, JSDuckDBValueConverter } = createRequire(import.meta.url)('@duckdb/node-api') as typeof DuckDbApi;

/**
 * A chunk's rows as arrays of JS values (the binding's `convertRows`), but a BLOB's bytes copied
 * out of DuckDB once, not twice (its `getItem` copies the binding's fresh copy into a Buffer): a
 * Managed nodes sheet's XML is ~6 MB of BLOBs.
 */
function chunkRows(chunk: DuckDbApi.DuckDBDataChunk, out: unknown[][]): void {
  // How each column's cell is read, chosen once per chunk, not per cell.
  const cells = Array.from({ length: chunk.columnCount }, (_, c): ((row: number) => unknown) => {
    const v = chunk.getColumnVector(c);
    if (!(v instanceof DuckDBBlobVector)) {
      const { type } = v;
      return (r) => JSDuckDBValueConverter(v.getItem(r), type, JSDuckDBValueConverter);
    }
    return (r) => {
      const bytes = v.getItemBytes(r);
      // Up to 12 bytes are a view of the vector's memory, which goes with the chunk.
      return bytes && bytes.length <= 12 ? bytes.slice() : bytes;
    };
  });
  for (let r = 0; r < chunk.rowCount; r++) out.push(cells.map((cell) => cell(r)));
}

let counter = 0;

/**
 * DuckDB's limit covers its buffer pool, not every allocation: measured on a 6M-row month
 * (30 tarballs × 200k rows), the whole process peaked at 0.95 GiB with 512MB and 0.70 GiB with
 * 384MB, so 384MB keeps the 1 GiB target with room. DuckDB spills beyond it. Override with
 * `memoryLimit`. (Rollups and reports have since been measured
 * again and set their own limits: ROLLUP_MEMORY_LIMIT, REPORT_MEMORY_LIMIT.)
 */
export const DEFAULT_MEMORY_LIMIT = '384MB';

/** Open a database (see `startDuckDb`) and wait until it is open. */
export async function openDuckDb(opts: DuckDbOptions = {}): Promise<TallyDuckDb> {
  const db = startDuckDb(opts);
  await db.opened;
  return db;
}

interface Opened {
  own: TempDir;
  instance: DuckDBInstance;
  connection: DuckDBConnection;
}

/** A connection in UTC: `TimeZone` is a setting of the connection, not of the database. */
async function connectUtc(instance: DuckDBInstance): Promise<DuckDBConnection> {
  const connection = await instance.connect();
  try {
    await connection.run("SET TimeZone = 'UTC'");
  } catch (err) {
    connection.closeSync();
    throw err;
  }
  return connection;
}

async function open(opts: DuckDbOptions): Promise<Opened> {
  const own: TempDir = await tempdir('tally-duckdb');
  let instance: DuckDBInstance | undefined;
  let connection: DuckDBConnection | undefined;
  try {
    const memoryLimit = opts.memoryLimit ?? DEFAULT_MEMORY_LIMIT;
    const threads = opts.threads ?? 2;
    const path = opts.onDisk ? join(own.path, 'tally.duckdb') : ':memory:';
    // INSTALL downloads fail here and must never be attempted: parquet and json are built in.
    instance = await Instance.create(path, {
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
      memory_limit: memoryLimit,
      threads: String(threads),
      temp_directory: opts.tempDirectory ?? join(own.path, 'spill'),
      preserve_insertion_order: 'false',
      // By default DuckDB hands freed memory back to the OS after every task past 128 MiB; the next
      // task faults it in again, and on this VM zeroing those pages cost 3–7% of a report's CPU
      // (perf: clear_page_erms). Keeping it costs no peak memory: it is reused, not added.
      allocator_flush_threshold: '4GB',
      allocator_bulk_deallocation_flush_threshold: '4GB',
    });
    connection = await connectUtc(instance);
    return { own, instance, connection };
  } catch (err) {
    connection?.closeSync();
    instance?.closeSync();
    await own.remove();
    throw err;
  }
}

/**
 * A database that opens in the background: the open (Instance.create, connect, `SET TimeZone`:
 * tens of ms, the main thread idle) runs while the caller lists and fetches its inputs. Every
 * statement waits for it; when it fails, `opened` and every statement reject with its error.
 */
export function startDuckDb(opts: DuckDbOptions = {}): TallyDuckDb {
  const opening = open(opts);
  let db: Opened | undefined;
  const opened = opening.then((o) => {
    db = o;
  });
  // Whoever uses the database sees a failed open; a database never used must not crash the process for it.
  opened.catch(() => {});
  const current = () => {
    if (!db) throw new Error('DuckDB is still opening: await `opened` first');
    return db;
  };
  let closed = false;
  const main = connectionQueue(async () => {
    await opened;
    return db!.connection;
  }, () => closed);
  let second: Promise<DuckDBConnection> | undefined;
  const beside = connectionQueue(() => (second ??= opened.then(() => connectUtc(db!.instance))), () => closed);
  // Every caller waits for the one close (a report closes early, then again on dispose).
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= closeOnce());
  const closeOnce = async () => {
    closed = true;
    if (!(await opened.then(() => true, () => false))) return;
    // Statements issued before close run to their end first: closing under one leaves it pending forever.
    await Promise.all([main.idle(), beside.idle()]);
    (await second?.catch(() => undefined))?.closeSync();
    db!.connection.closeSync();
    db!.instance.closeSync();
    await db!.own.remove();
  };
  return {
    opened,
    get instance() {
      return current().instance;
    },
    get connection() {
      return current().connection;
    },
    ...main.statements,
    beside: beside.statements,
    tableName(prefix) {
      counter += 1;
      return `${prefix.replace(/[^A-Za-z0-9_]/g, '_')}_${process.pid}_${counter}`;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * The statements of one connection, one at a time, in the order issued: the binding runs each on
 * libuv's pool, so two issued together (e.g. while the database opens) could otherwise run in
 * either order. `idle` settles once every statement issued so far has.
 */
function connectionQueue(connect: () => Promise<DuckDBConnection>, isClosed: () => boolean): { statements: DuckDbStatements; idle: () => Promise<unknown> } {
  const bind = (params?: unknown[]) => params as DuckDBValue[] | undefined;
  // A failed statement aborts the open transaction, and every later one (a cleanup in `finally`)
  // then fails for that alone: such a failure is reported as the first, so the caller still sees
  // e.g. that DuckDB ran out of memory (`isOutOfMemory`).
  let failed: unknown;
  const firstFailure = async <T>(work: Promise<T>): Promise<T> => {
    try {
      return await work;
    } catch (err) {
      if (failed !== undefined && /^TransactionContext Error: Current transaction is aborted/.test(errorMessage(err))) throw failed;
      failed = err;
      throw err;
    }
  };
  let tail: Promise<unknown> = Promise.resolve();
  const inOrder = <T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> => {
    if (isClosed()) return Promise.reject(new Error('DuckDB database is closed'));
    const next = tail.then(connect).then(work);
    tail = next.catch(() => {});
    return next;
  };
  const statements: DuckDbStatements = {
    run: (sql, params) =>
      inOrder(async (connection) => {
        const result = await firstFailure(connection.run(sql, bind(params)));
        return result.rowsChanged;
      }),
    all: <T>(sql: string, params?: unknown[]) =>
      inOrder(async (connection) => {
        const reader = await firstFailure(connection.runAndReadAll(sql, bind(params)));
        return reader.getRowObjectsJS() as T[];
      }),
    rows: (sql, params) =>
      // Materialized, not streamed: a statement run meanwhile on this connection (another
      // caller's) would end a streaming result early.
      inOrder(async (connection) => {
        const result = await firstFailure(connection.run(sql, bind(params)));
        const out: unknown[][] = [];
        for (;;) {
          const chunk = await firstFailure(result.fetchChunk());
          if (!chunk || chunk.rowCount === 0) return out;
          chunkRows(chunk, out);
        }
      }),
  };
  return { statements, idle: () => tail };
}

/**
 * Did DuckDB run out of memory (`memory_limit`)? Not the data's fault: loaders must not blame
 * (and skip) a tarball for it.
 */
export function isOutOfMemory(err: unknown): boolean {
  return /^Out of Memory Error/i.test(err instanceof Error ? err.message : String(err));
}

/** Quote an SQL identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quote an SQL string literal (only for file paths DuckDB table functions need as constants). */
export function literal(text: string): string {
  if (text.includes('\0')) throw new Error('NUL byte in SQL literal');
  return `'${text.replace(/'/g, "''")}'`;
}
