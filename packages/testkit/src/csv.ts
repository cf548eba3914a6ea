/**
 * Rows of a small CSV text (header line first) as objects keyed by the header: quoted fields
 * with `""` escapes, commas and line breaks inside quotes, `\n` or `\r\n` line ends. For tests
 * that write a few columns and widen them to a member's full schema (`schemaCsv`).
 */
export function parseCsv(text: string): Record<string, string>[] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      record.push(field);
      field = '';
    } else if (ch === '\n' || (ch === '\r' && text[i + 1] === '\n')) {
      if (ch === '\r') i++;
      record.push(field);
      records.push(record);
      field = '';
      record = [];
    } else field += ch;
  }
  if (field !== '' || record.length > 0) records.push([...record, field]);
  const [header = [], ...rows] = records;
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
}
