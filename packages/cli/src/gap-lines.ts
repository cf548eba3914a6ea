import type { CollectionGap } from '@tally/dataframes';

const when = (d: Date) => d.toISOString().replace('.000Z', 'Z');

/** How long a gap is, in the largest whole unit that fits (`5 days 2 h`, `3 h 10 min`, `42 s`). */
function span(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const days = `${d} day${d === 1 ? '' : 's'}`;
  if (d > 0) return h > 0 ? `${days} ${h} h` : days;
  if (h > 0) return m > 0 ? `${h} h ${m} min` : `${h} h`;
  return m > 0 ? `${m} min` : `${Math.round(seconds)} s`;
}

/** A collector gap: the CSV, where data stops and starts again, and for how long. */
export function gapLine(g: CollectionGap): string {
  return `${g.fileName} has no collected data from ${when(g.from)} until ${when(g.until)} (${span(g.seconds)}, ${g.seconds} s)`;
}

/** `tally report`'s warning line for a gap. */
export function gapWarning(g: CollectionGap): string {
  return `data collection gap: ${gapLine(g)}`;
}
