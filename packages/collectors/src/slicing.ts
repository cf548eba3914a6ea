import type { Window } from '@tally/core';

/**
 * The reference's `until_slicing`, for snapshots that scan a whole table whatever the
 * window: one slice at the last second before `until`, so the tarball lands in the
 * folder of `until`'s last day. The reference's slice is empty (`until − 1 s` both
 * ends); a gather slice must not be, so this one is `[until − 1 s, until)`.
 */
export function untilSlicing(w: Window): Window[] {
  return [{ since: new Date(w.until.getTime() - 1000), until: w.until }];
}
