import { errorMessage, mapConcurrent, silentLogger } from '@tally/core';
import { listTarballs } from './days.js';
import { extractTarball } from './safe-extract.js';
import type { ExtractedTarball, ExtractFailure, ExtractRangeOptions, ExtractRangeResult } from './types.js';

/**
 * Generator form of `extractRange`: yields each good tarball, fully extracted (released when
 * the loop moves on); failures are pushed to `failures` (and logged) as they happen.
 */
export async function* iterateTarballs(
  opts: ExtractRangeOptions,
  failures: ExtractFailure[] = [],
): AsyncGenerator<ExtractedTarball> {
  const log = opts.logger ?? silentLogger;
  const names = await listTarballs(opts.storage, opts.since, opts.until);
  for (const name of names) {
    let tarball: ExtractedTarball | undefined;
    try {
      const local = await opts.storage.get(name);
      try {
        tarball = await extractTarball(local.path, { ...opts, name });
      } finally {
        await local.release();
      }
    } catch (err) {
      // The reason alone: ExtractError messages start with the tarball name, which `file` holds.
      const msg = errorMessage(err);
      const failure = { file: name, error: msg.startsWith(`${name}: `) ? msg.slice(name.length + 2) : msg };
      failures.push(failure);
      log.warn('tarball skipped: it contributes no rows', failure);
      continue;
    }
    try {
      yield tarball;
    } finally {
      await tarball.release();
    }
  }
}

/** One tarball's outcome: extracted, or the reason it contributes nothing. */
type Outcome = { tarball: ExtractedTarball } | { failure: ExtractFailure };

async function extractOne(opts: ExtractRangeOptions, name: string): Promise<Outcome> {
  try {
    const local = await opts.storage.get(name);
    try {
      return { tarball: await extractTarball(local.path, { ...opts, name }) };
    } finally {
      await local.release();
    }
  } catch (err) {
    // The reason alone: ExtractError messages start with the tarball name, which `file` holds.
    const msg = errorMessage(err);
    return { failure: { file: name, error: msg.startsWith(`${name}: `) ? msg.slice(name.length + 2) : msg } };
  }
}

/**
 * Four at a time by default: twice the extraction worker threads (see extract-in-worker.ts), so
 * that each worker has its next tarball queued when one ends and never waits for the main thread.
 */
const DEFAULT_EXTRACT_CONCURRENCY = 4;

/**
 * Extract every tarball of the day folders in `[since, until)` up front, `concurrency` at a
 * time (on the extraction worker threads, so extractions use every core). Returns the good
 * ones in name order, each fully extracted; the caller must `release()` every one. Failures are
 * pushed to `failures` (in name order) and logged.
 */
export async function extractAll(
  opts: ExtractRangeOptions & { concurrency?: number },
  failures: ExtractFailure[] = [],
): Promise<ExtractedTarball[]> {
  const log = opts.logger ?? silentLogger;
  const names = await listTarballs(opts.storage, opts.since, opts.until);
  // extractOne never rejects: a failure is an outcome, so every tarball is tried.
  const outcomes = await mapConcurrent(names, opts.concurrency ?? DEFAULT_EXTRACT_CONCURRENCY, (name) => extractOne(opts, name));
  const good: ExtractedTarball[] = [];
  for (const o of outcomes) {
    if ('tarball' in o) good.push(o.tarball);
    else {
      failures.push(o.failure);
      log.warn('tarball skipped: it contributes no rows', { ...o.failure });
    }
  }
  return good;
}

/**
 * Read every tarball of the day folders in `[since, until)`, one at a time: each is fully
 * extracted into its own temp directory before `each` sees it, and removed afterwards.
 * A bad tarball is logged, listed in `failures` and never reaches `each`; errors thrown by
 * `each` itself propagate.
 */
export async function extractRange(
  opts: ExtractRangeOptions,
  each: (tarball: ExtractedTarball) => Promise<void>,
): Promise<ExtractRangeResult> {
  const failures: ExtractFailure[] = [];
  const loaded: string[] = [];
  for await (const tarball of iterateTarballs(opts, failures)) {
    await each(tarball);
    loaded.push(tarball.name);
  }
  return { loaded, failures };
}
