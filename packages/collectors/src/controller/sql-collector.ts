import type { CollectorMeta, CollectorParams, CollectorResult, Collector } from '../collector.js';
import { bound, copyToCsv } from '../copy.js';
import { defineCollector } from '../define.js';
import { type JsonCheck, prepareJsonCheck } from '../host-variables.js';
import { type CsvTarget, csvTarget, type Windowed, windowed } from '../params.js';

export interface SqlCollectorParams extends CollectorParams {
  /** Force how host variables are recognised as JSON (tests; read-only replicas). */
  jsonCheck?: JsonCheck;
}

/** `[since, until)` on a column, with the bounds bound through session settings. */
export function inWindow(column: string): string {
  return `(${column} >= ${bound('since', 'timestamptz')} AND ${column} < ${bound('until', 'timestamptz')})`;
}

interface SqlSpec {
  /** Builds the SELECT; `check` is given when `hostVariables` is set. */
  sql(check: JsonCheck): string;
  hostVariables?: boolean;
  /** Runs before the COPY; a result returned here replaces it (e.g. a skipped collector). */
  precheck?(target: CsvTarget): Promise<CollectorResult | undefined>;
}

async function runCopy(key: string, v: CsvTarget & Partial<Windowed>, params: SqlCollectorParams, spec: SqlSpec): Promise<CollectorResult> {
  const early = await spec.precheck?.(v);
  if (early) return early;
  const check = spec.hostVariables ? await prepareJsonCheck(v.db, params.jsonCheck) : 'regex';
  const bind: Record<string, Date> = v.since && v.until ? { since: v.since, until: v.until } : {};
  const files = await copyToCsv(v.db, spec.sql(check), bind, { key, outputDir: v.outputDir, maxFileSize: v.maxFileSize });
  return { format: 'csv', files };
}

/** A CSV collector over `[since, until)`. */
export function windowedSqlCollector(meta: Omit<CollectorMeta, 'format'>, spec: SqlSpec): Collector<SqlCollectorParams> {
  return defineCollector<SqlCollectorParams, Windowed>(
    { ...meta, format: 'csv' },
    {
      validate: (p) => windowed(meta.key, p),
      run: (v, p) => runCopy(meta.key, v, p, spec),
    },
  );
}

/** A CSV snapshot collector: since/until, when given, are ignored. */
export function snapshotSqlCollector(meta: Omit<CollectorMeta, 'format'>, spec: SqlSpec): Collector<SqlCollectorParams> {
  return defineCollector<SqlCollectorParams, CsvTarget>(
    { ...meta, format: 'csv' },
    {
      validate: (p) => csvTarget(meta.key, p),
      run: (v, p) => runCopy(meta.key, v, p, spec),
    },
  );
}
