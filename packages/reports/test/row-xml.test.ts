import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DataRow } from '../src/queries.js';
import { EXCEL_MAX_CELL_TEXT, openWorkbook, type Worksheet, writeDataTable } from '../src/sheet.js';
import { DATE_FORMAT, font } from '../src/styles.js';

// writeDataTable writes data rows as XML itself (row-xml.ts); the workbook must be the one exceljs
// writes for the same cells, byte for byte, for every kind of value a sheet holds.

const dir = mkdtempSync(join(tmpdir(), 'tally-row-xml-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const unzip = (file: string, member: string) => execFileSync('unzip', ['-p', file, member], { encoding: 'utf8', maxBuffer: 64 << 20 });

const HEADERS = Array.from({ length: 30 }, (_, i) => `Column ${i + 1}`);
const wide = (i: number): DataRow => HEADERS.map((_, c) => (c % 3 === 0 ? `h-${i}-${c}` : c % 3 === 1 ? i * c + 0.25 : new Date(Date.UTC(2024, 2, 1 + (c % 28), 0, 0, 0, i))));
const ROWS: DataRow[] = [
  [null, 3, 'text', new Date('2024-03-01T12:34:56.789Z')],
  ['Company Business leader ', ' x', '\tlead', 'a & <b> "c" \'d\''],
  [null, null, null, null], // left out by exceljs, its number still taken
  ['ctrl\u0001\u001fchar\u007f', -0, 1e21, 0.1 + 0.2],
  ['', 0, Number.MAX_SAFE_INTEGER, new Date(0)],
  ['x'.repeat(EXCEL_MAX_CELL_TEXT + 5), null, 'multi\nline', null],
  [new Date('1899-12-30T00:00:00Z'), 'ünïcødé ✓ 😀', 42, 'end'],
  ...Array.from({ length: 1200 }, (_, i) => wide(i).slice(0, 4)),
];

/** What writeDataTable wrote before row-xml.ts: every data row through exceljs's Row and Cells. */
function throughExceljs(ws: Worksheet, headers: readonly string[], rows: readonly DataRow[]): void {
  const head = ws.addRow([...headers]);
  head.height = 25;
  head.eachCell((c) => {
    c.font = font(10, { bold: true });
  });
  head.commit();
  const text = { font: font(10) };
  const date = { font: font(10), numFmt: DATE_FORMAT };
  const rowStyle = {};
  for (const values of rows) {
    const cut = values.map((v) => (typeof v === 'string' && v.length > EXCEL_MAX_CELL_TEXT ? cutText(v) : v));
    const row = ws.addRow(cut);
    (row as unknown as { style: object }).style = rowStyle;
    for (let i = 0; i < values.length; i++) row.getCell(i + 1).style = values[i] instanceof Date ? date : text;
    row.commit();
  }
}

function cutText(v: string): string {
  const note = ` … [cut: ${v.length.toLocaleString('en')} characters in all]`;
  return v.slice(0, EXCEL_MAX_CELL_TEXT - note.length) + note;
}

async function workbook(name: string, write: (ws: Worksheet, headers: readonly string[], rows: readonly DataRow[]) => void): Promise<string> {
  const file = join(dir, `${name}.xlsx`);
  const wb = await openWorkbook(file);
  const tables: [string, readonly string[], readonly DataRow[]][] = [
    ['Mixed', HEADERS.slice(0, 4), ROWS],
    ['Wide', HEADERS, Array.from({ length: 40 }, (_, i) => wide(i))],
    ['Empty', HEADERS.slice(0, 2), []],
  ];
  for (const [title, headers, rows] of tables) {
    const ws = wb.addWorksheet(title);
    write(ws, headers, rows);
    // A row after the table lands where exceljs would put it.
    ws.addRow(['after']).commit();
    ws.commit();
  }
  await wb.commit();
  return file;
}

describe('data rows written as XML', () => {
  it('are the bytes exceljs writes for the same cells: sheets and styles', async () => {
    const ours = await workbook('ours', writeDataTable);
    const theirs = await workbook('theirs', throughExceljs);
    for (const member of ['xl/worksheets/sheet1.xml', 'xl/worksheets/sheet2.xml', 'xl/worksheets/sheet3.xml', 'xl/styles.xml']) {
      expect(unzip(ours, member), member).toBe(unzip(theirs, member));
    }
    const mixed = unzip(ours, 'xl/worksheets/sheet1.xml');
    expect(mixed).not.toContain('<row r="4"');
    expect(mixed).toContain('<c r="A3" s="');
    expect(mixed).toContain('<row r="1209"');
  });
});
