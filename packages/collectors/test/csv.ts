import { readFileSync } from 'node:fs';

/** Parse PostgreSQL CSV: an unquoted empty field is NULL, a quoted one is ''. */
export function parseCsv(text: string): (string | null)[][] {
  const rows: (string | null)[][] = [];
  let row: (string | null)[] = [];
  let i = 0;
  while (i < text.length) {
    let value: string | null;
    if (text[i] === '"') {
      let out = '';
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw new Error('unterminated quote');
        out += text.slice(i, q);
        if (text[q + 1] === '"') {
          out += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      value = out;
    } else {
      let j = i;
      while (j < text.length && text[j] !== ',' && text[j] !== '\n') j++;
      value = j === i ? null : text.slice(i, j);
      i = j;
    }
    row.push(value);
    if (text[i] === ',') i++;
    else {
      rows.push(row);
      row = [];
      i++;
    }
  }
  return rows;
}

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
