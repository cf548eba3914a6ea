import type { Storage } from '@tally/storage';

/** `data/YYYY/MM/DD` for every UTC day folder in `[since, until)` (the day of `since` included). */
export function dayFolders(_since: Date, _until: Date): string[] {
  throw new Error('not implemented');
}

/** Storage names of every `data/YYYY/MM/DD/*.tar.gz` in the day folders of `[since, until)`, sorted. */
export async function listTarballs(_storage: Storage, _since: Date, _until: Date): Promise<string[]> {
  throw new Error('not implemented');
}
