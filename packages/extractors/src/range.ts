import type { ExtractedTarball, ExtractFailure, ExtractRangeOptions, ExtractRangeResult } from './types.js';

/**
 * Read every tarball of the day folders in `[since, until)`, one at a time: each is fully
 * extracted into its own temp directory before `each` sees it, and removed afterwards.
 * A bad tarball is logged, listed in `failures` and never reaches `each`.
 */
export async function extractRange(
  _opts: ExtractRangeOptions,
  _each: (tarball: ExtractedTarball) => Promise<void>,
): Promise<ExtractRangeResult> {
  throw new Error('not implemented');
}

/**
 * Generator form of `extractRange`: yields each good tarball (released when the loop moves on);
 * failures are pushed to `failures` as they happen.
 */
export async function* iterateTarballs(
  _opts: ExtractRangeOptions,
  _failures: ExtractFailure[] = [],
): AsyncGenerator<ExtractedTarball> {
  yield* [];
  throw new Error('not implemented');
}
