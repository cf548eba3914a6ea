/**
 * Parse RFC 4180 CSV (quoted fields, doubled quotes, CRLF or LF, optional BOM)
 * into row objects keyed by the header. Values stay strings; an empty unquoted
 * field becomes null, as pandas reads it as missing.
 */
export function parseCsvRows(text: string): Record<string, string | null>[] {
  const records = parseCsv(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  const header = records.shift();
  if (!header) return [];
  return records
    .filter((r) => !(r.length === 1 && r[0] === null))
    .map((r, i) => {
      if (r.length !== header.length) {
        throw new Error(`CSV row ${i + 2} has ${r.length} fields; the header has ${header.length}`);
      }
      const row: Record<string, string | null> = {};
      header.forEach((h, j) => {
        row[h ?? ''] = r[j] ?? null;
      });
      return row;
    });
}

/**
 * Parse CSV text into records of fields (RFC 4180 quoting, CRLF or LF). As in
 * PostgreSQL's CSV, an unquoted empty field is null and a quoted one is ''.
 */
export function parseCsv(text: string): (string | null)[][] {
  const rows: (string | null)[][] = [];
  let row: (string | null)[] = [];
  let field = '';
  let quoted = false;
  let wasQuoted = false;
  const endField = () => {
    row.push(field === '' && !wasQuoted ? null : field);
    field = '';
    wasQuoted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') {
      quoted = true;
      wasQuoted = true;
    } else if (c === ',') endField();
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endField();
      rows.push(row);
      row = [];
    } else field += c;
  }
  if (quoted) throw new Error('CSV ends inside a quoted field');
  if (field !== '' || wasQuoted || row.length) {
    endField();
    rows.push(row);
  }
  return rows;
}
