import { CSV_SCHEMAS } from '@tally/extractors';

/** A CSV field as PostgreSQL's COPY … CSV writes it: quoted only when it must be. */
function csvField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * CSV text of `rows` under the header of `member`'s schema `version` (default: the newest
 * listed); a column a row does not name is empty. For test fixtures and tools.
 */
export function schemaCsv(member: string, rows: readonly Readonly<Record<string, string | number | null | undefined>>[], version?: string): string {
  const versions = CSV_SCHEMAS[member]?.versions;
  if (!versions) throw new Error(`no known schema for ${member}`);
  const header = versions[version ?? Object.keys(versions).at(-1)!];
  if (!header) throw new Error(`no schema version ${version} for ${member}`);
  for (const row of rows) {
    const unknown = Object.keys(row).filter((k) => !header.includes(k));
    if (unknown.length) throw new Error(`${member} ${version ?? ''} has no column ${unknown.join(', ')}`);
  }
  return [header.join(','), ...rows.map((r) => header.map((c) => csvField(r[c])).join(','))].map((l) => `${l}\n`).join('');
}
