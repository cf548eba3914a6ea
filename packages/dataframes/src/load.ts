import { errorMessage, type Logger, silentLogger, TallyError } from '@tally/core';
import { type ExtractFailure, iterateTarballs } from '@tally/extractors';
import type { Storage } from '@tally/storage';
import type { Dataframe } from './dataframe.js';

export interface LoadResult {
  /** Storage names of the tarballs whose rows were added. */
  tarballs: string[];
  failures: ExtractFailure[];
}

export interface LoadOptions {
  storage: Storage;
  since: Date;
  until: Date;
  logger?: Logger;
  maxTotalBytes?: number;
  maxMembers?: number;
  /** Call `group()` on every dataframe at the end (default true). */
  group?: boolean;
}

/**
 * Read every tarball of the day folders in `[since, until)` into the given dataframes (each
 * takes the members it needs; every tarball is extracted once) and `group()` them. A tarball
 * that cannot be extracted, or whose CSV cannot be read, contributes nothing to any dataframe.
 */
export async function loadTarballs(dataframes: readonly Dataframe[], opts: LoadOptions): Promise<LoadResult> {
  const log = opts.logger ?? silentLogger;
  const only = [...new Set(dataframes.flatMap((d) => d.members))];
  const failures: ExtractFailure[] = [];
  const tarballs: string[] = [];
  const db = dataframes[0]?.db;
  if (dataframes.some((d) => d.db !== db)) {
    throw new TallyError('loadTarballs: every dataframe must live in the same DuckDB database (one transaction per tarball)');
  }
  for (const df of dataframes) await df.init();
  for await (const tarball of iterateTarballs({ ...opts, only }, failures)) {
    const sources = dataframes.map((d) => d.sources);
    try {
      // One transaction over every dataframe, so a bad CSV drops the whole tarball everywhere.
      await db?.run('BEGIN TRANSACTION');
      for (const df of dataframes) await df.addTarballRows(tarball);
      await db?.run('COMMIT');
      tarballs.push(tarball.name);
    } catch (err) {
      await db?.run('ROLLBACK');
      dataframes.forEach((d, i) => {
        d.sources = sources[i]!;
      });
      const msg = errorMessage(err);
      const failure = { file: tarball.name, error: msg.startsWith(`${tarball.name}: `) ? msg.slice(tarball.name.length + 2) : msg };
      failures.push(failure);
      log.warn('tarball skipped: it contributes no rows', failure);
    }
  }
  if (opts.group ?? true) for (const df of dataframes) await df.group();
  return { tarballs, failures };
}
