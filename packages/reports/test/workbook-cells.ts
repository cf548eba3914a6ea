import { readWorkbook } from '../src/sheet.js';

/** Every sheet's every cell (value, number format), read back from the file. */
export async function workbookCells(path: string): Promise<Record<string, unknown[][]>> {
  const wb = await readWorkbook(path);
  const out: Record<string, unknown[][]> = {};
  for (const ws of wb.worksheets) {
    const rows: unknown[][] = [];
    ws.eachRow({ includeEmpty: true }, (row) => {
      const r: unknown[] = [];
      row.eachCell({ includeEmpty: true }, (c) => r.push([c.value ?? null, c.numFmt ?? null]));
      rows.push(r);
    });
    out[ws.name] = rows;
  }
  return out;
}
