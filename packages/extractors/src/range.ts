import { errorMessage, silentLogger } from '@tally/core';
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
