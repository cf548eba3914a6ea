import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { CollectorError, CsvSplitter, errorMessage } from '@tally/core';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';

/** A value bound into a COPY query through a session setting (`tally.<name>`). */
export type CopyParam = Date | string | number | boolean;

const NAME = /^[a-z][a-z0-9_]*$/;

/**
 * The SQL that reads a bound parameter inside a COPY query, e.g.
 * `bound('since', 'timestamptz')` → `current_setting('tally.since')::timestamptz`.
 * `current_setting` is STABLE, so index scans and partition pruning still apply.
 */
export function bound(name: string, type: 'timestamptz' | 'text' | 'bigint' | 'boolean' | 'jsonb'): string {
  if (!NAME.test(name)) throw new RangeError(`bound parameter name "${name}" must match ${NAME}`);
  return `current_setting('tally.${name}')::${type}`;
}

function settingText(v: CopyParam): string {
  if (v instanceof Date) return v.toISOString();
  return String(v);
}

export interface CopyOptions {
  /** Collector key: names the files and error messages. */
  key: string;
  outputDir: string;
  maxFileSize?: number;
}

/**
 * Session settings that shape Postgres's CSV text: timestamps as
 * `2024-03-06 12:00:56.487578+00`, as in the reference's tarballs.
 */
const OUTPUT_SETTINGS: Record<string, string> = {
  TimeZone: 'UTC',
  DateStyle: 'ISO, MDY',
  IntervalStyle: 'postgres',
  extra_float_digits: '1',
};

/**
 * Run `COPY (<sql>) TO STDOUT WITH CSV HEADER` and stream it into size-limited parts.
 * COPY takes no bind parameters, so each entry of `params` is first stored with a
 * parameterised `set_config('tally.<name>', $n, false)` and read back inside `sql`
 * with {@link bound}; no value is ever pasted into SQL text. The session's output
 * settings are restored afterwards.
 */
export async function copyToCsv(
  db: pg.ClientBase,
  sql: string,
  params: Record<string, CopyParam>,
  opts: CopyOptions,
): Promise<string[]> {
  const names = Object.keys(params);
  for (const n of names) if (!NAME.test(n)) throw new CollectorError(opts.key, `bound parameter name "${n}" must match ${NAME}`);
  const settings: [string, string][] = [
    ...Object.entries(OUTPUT_SETTINGS),
    ...names.map((n): [string, string] => [`tally.${n}`, settingText(params[n]!)]),
  ];
  const previous = await readSettings(db, Object.keys(OUTPUT_SETTINGS));
  await applySettings(db, settings);
  try {
    const splitter = new CsvSplitter({ dir: opts.outputDir, key: opts.key, maxFileSize: opts.maxFileSize });
    try {
      await pipeline(db.query(copyTo(`COPY (${sql}) TO STDOUT WITH CSV HEADER`)), splitter);
    } catch (err) {
      // Never leave a partial part behind for a packager to pick up.
      await Promise.all(splitter.created.map((f) => rm(f, { force: true })));
      throw new CollectorError(opts.key, `COPY failed: ${errorMessage(err)}`, { cause: err });
    }
    return splitter.files;
  } finally {
    await applySettings(db, [...previous, ...names.map((n): [string, string] => [`tally.${n}`, ''])]).catch(() => {});
  }
}

async function readSettings(db: pg.ClientBase, names: string[]): Promise<[string, string][]> {
  const { rows } = await db.query<{ name: string; value: string }>(
    'SELECT n AS name, current_setting(n) AS value FROM unnest($1::text[]) AS n',
    [names],
  );
  return rows.map((r) => [r.name, r.value]);
}

async function applySettings(db: pg.ClientBase, settings: [string, string][]): Promise<void> {
  if (settings.length === 0) return;
  await db.query('SELECT set_config(k, v, false) FROM unnest($1::text[], $2::text[]) AS s(k, v)', [
    settings.map((s) => s[0]),
    settings.map((s) => s[1]),
  ]);
}
