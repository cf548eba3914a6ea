import { errorMessage, type Logger, silentLogger, TallyError } from '@tally/core';
import { type ExtractFailure, type ExtractedTarball, extractAll, type TarballDigest } from '@tally/extractors';
import type { Store } from '@tally/storage';
import { CsvError, explainCsvError, readMemberHeader } from './csv.js';
import type { Dataframe } from './dataframe.js';
import { isOutOfMemory } from './duckdb.js';

export interface LoadResult {
  /** Storage names of the tarballs whose rows were added. */
  tarballs: string[];
  failures: ExtractFailure[];
  /** Each extracted tarball's SHA-256, size and CSV record counts, taken as it was read (by storage name). */
  digests?: Map<string, TarballDigest>;
}

export interface LoadOptions {
  storage: Store;
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
  const group = opts.group ?? true;
  const result = await withExtracted(dataframes, opts, (extracted, res) =>
    loadExtracted(dataframes, extracted, res, opts.logger ?? silentLogger, {
      stage: group,
      finish: async () => {
        if (group) for (const df of dataframes) await df.group();
      },
    }),
  );
  return result;
}

/**
 * Extract every tarball of `[since, until)` for `dataframes`, run `use` while the files exist,
 * then remove them. Failures come back in name order, as if read one by one.
 *
 * With `removeInBackground`, the removal (~0.5 s for a month's 1.3 GB) is started but not
 * awaited, so the caller's next step (writing a workbook from DuckDB tables) overlaps it: the
 * caller must await `removed` before it exits. A removal failure is logged, never thrown.
 */
export async function withExtracted(
  dataframes: readonly Dataframe[],
  opts: LoadOptions,
  use: (extracted: readonly ExtractedTarball[], result: LoadResult) => Promise<void>,
  { removeInBackground = false }: { removeInBackground?: boolean } = {},
): Promise<LoadResult & { removed: Promise<void> }> {
  const db = dataframes[0]?.db;
  if (dataframes.some((d) => d.db !== db)) {
    throw new TallyError('loadTarballs: every dataframe must live in the same DuckDB database (one transaction per tarball)');
  }
  for (const df of dataframes) await df.init();
  const only = [...new Set(dataframes.flatMap((d) => d.members))];
  const result: LoadResult = { tarballs: [], failures: [], digests: new Map() };
  const extracted = await extractAll({ ...opts, only }, result.failures);
  for (const t of extracted) if (t.sha256 !== undefined && t.size !== undefined && t.records) result.digests?.set(t.name, { sha256: t.sha256, size: t.size, records: t.records });
  const remove = () =>
    Promise.all(extracted.map((t) => t.release())).then(
      () => {},
      (err: unknown) => (opts.logger ?? silentLogger).warn('extracted tarballs could not all be removed', { error: errorMessage(err) }),
    );
  try {
    await use(extracted, result);
  } catch (err) {
    await remove();
    throw err;
  }
  const removed = remove();
  if (!removeInBackground) await removed;
  result.failures.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return { ...result, removed };
}

/** What a failed read of `tarball` tells the caller: its storage name and the reason alone. */
/** A refused tarball: recorded in the result and named in the log; it contributes no row. */
function skipTarball(failure: ExtractFailure, result: LoadResult, log: Logger): void {
  result.failures.push(failure);
  log.warn('tarball skipped: it contributes no rows', { ...failure });
}

function failureOf(tarball: ExtractedTarball, err: unknown): ExtractFailure {
  // ExtractError messages start with the tarball name, which `file` holds.
  const msg = errorMessage(err);
  const failure: ExtractFailure = { file: tarball.name, error: msg.startsWith(`${tarball.name}: `) ? msg.slice(tarball.name.length + 2) : msg };
  if (err instanceof CsvError) {
    failure.member = err.member;
    if (err.line !== undefined) failure.line = err.line;
  }
  return failure;
}

/** Why a CSV member of `tarball` that some dataframe reads has a header of no known version. */
async function headerRefusal(dataframes: readonly Dataframe[], tarball: ExtractedTarball): Promise<ExtractFailure | undefined> {
  const members = new Set(dataframes.flatMap((d) => d.members).filter((m) => m.endsWith('.csv')));
  for (const member of members) {
    const path = tarball.file(member);
    if (!path) continue;
    try {
      await readMemberHeader(path, tarball.name, member);
    } catch (err) {
      return failureOf(tarball, err);
    }
  }
  return undefined;
}

/**
 * Does `tarball` read, in every dataframe, as its schemas say? Its rows are prepared in a
 * transaction that is always rolled back; the reason (member, line) when not. Running out of
 * memory is no tarball's fault: it throws.
 */
async function refusal(dataframes: readonly Dataframe[], tarball: ExtractedTarball): Promise<ExtractFailure | undefined> {
  const db = dataframes[0]!.db;
  const sources = dataframes.map((d) => d.sources);
  let failed: unknown;
  await db.run('BEGIN TRANSACTION');
  try {
    for (const df of dataframes) await df.addTarballRows(tarball);
  } catch (err) {
    failed = err;
  }
  await db.run('ROLLBACK');
  dataframes.forEach((d, i) => {
    d.sources = sources[i]!;
  });
  if (failed === undefined) return undefined;
  if (isOutOfMemory(failed)) throw failed;
  return failureOf(tarball, await explainCsvError(db, failed));
}

/**
 * Add `extracted` to every dataframe and run `finish` (grouping, writing) in ONE transaction:
 * each member's CSVs of all tarballs are read by one parallel, strict scan (with `stage`, the big
 * ones are left as scans for `finish` to aggregate directly). Every CSV is checked in that scan
 * (see `Dataframe.addCsv`): if it fails, everything is rolled back, each tarball is checked on its
 * own, the bad ones are refused (named, with member, line and reason) and the batch runs again
 * without them, so bad input costs time only when there is some, and a refused tarball changes
 * no number. Should that batch fail too, tarballs are loaded one by one, each in its own
 * transaction, and `finish` runs on what was kept (in a transaction of its own: a failing `finish`
 * leaves nothing grouped for a retry to count again). Running out of memory never drops a tarball
 * (see `isOutOfMemory`): the batch retries tarball by tarball (or throws, with
 * `outOfMemory: 'throw'`), and a single tarball running out throws.
 */
export async function loadExtracted(
  dataframes: readonly Dataframe[],
  extracted: readonly ExtractedTarball[],
  result: LoadResult,
  log: Logger,
  opts: {
    stage: boolean;
    finish: () => Promise<void>;
    /**
     * When the batch runs out of memory: `retry` tarball by tarball (default; grouping a table
     * can spill where grouping the scans could not) or `throw` (the caller has a cheaper plan).
     */
    outOfMemory?: 'retry' | 'throw';
  },
): Promise<void> {
  // Headers are checked up front: cheap, and a bad one then costs no failed scan.
  let batch: ExtractedTarball[] = [];
  for (const tarball of extracted) {
    const failure = await headerRefusal(dataframes, tarball);
    if (!failure) batch.push(tarball);
    else skipTarball(failure, result, log);
  }
  const finish = async () => {
    const err = await inTransaction(dataframes, opts.finish);
    if (err !== undefined) throw err;
  };
  for (let attempt = 0; ; attempt++) {
    if (batch.length === 0) {
      await finish();
      return;
    }
    const err = await loadBatch(dataframes, batch, opts);
    if (err === undefined) {
      result.tarballs.push(...batch.map((t) => t.name));
      return;
    }
    const oom = isOutOfMemory(err);
    if (oom && opts.outOfMemory === 'throw') throw err;
    if (oom || attempt > 0) {
      log.debug(oom ? 'batch ran out of memory; loading tarball by tarball' : 'batch read failed again; loading tarball by tarball', { error: errorMessage(err) });
      break;
    }
    log.debug('batch read failed; checking tarball by tarball', { error: errorMessage(err) });
    const kept: ExtractedTarball[] = [];
    for (const tarball of batch) {
      const failure = await refusal(dataframes, tarball);
      if (!failure) kept.push(tarball);
      else skipTarball(failure, result, log);
    }
    // No tarball to blame: the tarball-by-tarball loading below names what fails.
    if (kept.length === batch.length) break;
    batch = kept;
  }
  await loadOneByOne(dataframes, batch, result, log);
  await finish();
}

/** `work` in one transaction; the error if any (rolled back, the dataframes restored: see `Dataframe.checkpoint`). */
async function inTransaction(dataframes: readonly Dataframe[], work: () => Promise<void>): Promise<unknown> {
  const db = dataframes[0]?.db;
  const restore = dataframes.map((d) => d.checkpoint());
  try {
    await db?.run('BEGIN TRANSACTION');
    await work();
    await db?.run('COMMIT');
    return undefined;
  } catch (err) {
    await db?.run('ROLLBACK');
    for (const r of restore) r();
    return err;
  }
}

/** `extracted` added to every dataframe and `finish` run in one transaction; the error if any (rolled back). */
function loadBatch(
  dataframes: readonly Dataframe[],
  extracted: readonly ExtractedTarball[],
  opts: { stage: boolean; finish: () => Promise<void> },
): Promise<unknown> {
  return inTransaction(dataframes, async () => {
    for (const df of dataframes) {
      if (opts.stage) await df.stageTarballs(extracted);
      else await df.addTarballsRows(extracted);
    }
    await opts.finish();
  });
}

/** Each tarball added to every dataframe in its own transaction: the ones that fail are named and dropped. */
async function loadOneByOne(dataframes: readonly Dataframe[], extracted: readonly ExtractedTarball[], result: LoadResult, log: Logger): Promise<void> {
  const db = dataframes[0]?.db;
  for (const tarball of extracted) {
    const before = dataframes.map((d) => d.sources);
    try {
      // One transaction over every dataframe, so a bad CSV drops the whole tarball everywhere.
      await db?.run('BEGIN TRANSACTION');
      for (const df of dataframes) await df.addTarballRows(tarball);
      await db?.run('COMMIT');
      result.tarballs.push(tarball.name);
    } catch (err) {
      await db?.run('ROLLBACK');
      dataframes.forEach((d, i) => {
        d.sources = before[i]!;
      });
      // Running out of memory is no tarball's fault: fail rather than drop it.
      if (isOutOfMemory(err)) throw err;
      skipTarball(failureOf(tarball, db ? await explainCsvError(db, err) : err), result, log);
    }
  }
}
