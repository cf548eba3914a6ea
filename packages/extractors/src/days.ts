import { addDays, thisDay } from '@tally/core';
import type { Store } from '@tally/storage';

const pad = (n: number) => String(n).padStart(2, '0');

/** `data/YYYY/MM/DD` for every UTC day folder in `[since, until)` (the day of `since` included). */
export function dayFolders(since: Date, until: Date): string[] {
  const out: string[] = [];
  for (let d = thisDay(since); d.getTime() < until.getTime(); d = addDays(d, 1)) {
    out.push(`data/${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}`);
  }
  return out;
}

/** Storage names of every `data/YYYY/MM/DD/*.tar.gz` in the day folders of `[since, until)`, sorted. */
export async function listTarballs(storage: Store, since: Date, until: Date): Promise<string[]> {
  const out: string[] = [];
  for (const folder of dayFolders(since, until)) {
    const names = await storage.glob(`${folder}/*.tar.gz`);
    out.push(...names.filter((n) => n.startsWith(`${folder}/`) && !n.slice(folder.length + 1).includes('/')).sort());
  }
  return out;
}
