import { DuckDBInstance, type DuckDBConnection, DuckDBTimestampValue, type DuckDBValue } from '@duckdb/node-api';

export type Cell = string | number | Date | null;
export type Row = Record<string, Cell>;

/** An in-memory DuckDB connection set up the way every report query expects (UTC, no downloads). */
export async function openDuck(): Promise<{ conn: DuckDBConnection; close(): void }> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const conn = await instance.connect();
  await conn.run("SET TimeZone='UTC'");
  await conn.run('SET autoinstall_known_extensions=false');
  return {
    conn,
    close() {
      conn.closeSync();
      instance.closeSync();
    },
  };
}

/**
 * Plain JS values for the sheet writers: bigints become numbers, timestamps
 * naive-UTC `Date`s rounded to the millisecond (what xlsx keeps anyway).
 */
export function toCell(v: DuckDBValue): Cell {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof DuckDBTimestampValue) return new Date(Math.round(Number(v.micros) / 1000));
  return String(v);
}

export async function queryRows(conn: DuckDBConnection, sql: string, params?: Record<string, string | number>): Promise<Row[]> {
  const reader = await conn.runAndReadAll(sql, params);
  return reader.getRowObjects().map((r) => {
    const out: Row = {};
    for (const [k, v] of Object.entries(r)) out[k] = toCell(v);
    return out;
  });
}

/** A SQL string literal (for identifiers of files we created ourselves; user values go through parameters). */
export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
