import { readFileSync } from 'node:fs';
import { parseCsv } from '@tally/core';

/** Header and rows of a CSV file. */
export function readCsv(path: string): { header: string[]; rows: (string | null)[][] } {
  const [header, ...rows] = parseCsv(readFileSync(path, 'utf8'));
  return { header: (header ?? []) as string[], rows };
}

/** Rows as objects keyed by column name. */
export function csvObjects(path: string): Record<string, string | null>[] {
  const { header, rows } = readCsv(path);
  return rows.map((r) => Object.fromEntries(header.map((h, k) => [h, r[k] ?? null])));
}
