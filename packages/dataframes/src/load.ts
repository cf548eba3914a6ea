import type { Logger } from '@tally/core';
import type { ExtractFailure } from '@tally/extractors';
import type { Storage } from '@tally/storage';
import type { Dataframe } from './dataframe.js';

export interface LoadResult {
  tarballs: string[];
  failures: ExtractFailure[];
}

/**
 * Read every tarball of the day folders in `[since, until)` into the given dataframes
 * (each takes the members it needs) and `group()` them. Bad tarballs contribute nothing.
 */
export async function loadTarballs(
  _dataframes: readonly Dataframe[],
  _opts: { storage: Storage; since: Date; until: Date; logger?: Logger; maxTotalBytes?: number; maxMembers?: number },
): Promise<LoadResult> {
  throw new Error('not implemented');
}
