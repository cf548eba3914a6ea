import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DataRow } from '../src/queries.js';
import { EXCEL_MAX_CELL_TEXT, openWorkbook, type WorkbookWriter, writeDataTable } from '../src/sheet.js';
import { openExceljsWorkbook } from './exceljs-writer.js';

// writeDataTable writes data rows as XML itself (row-xml.ts); the workbook must be the one exceljs
// wrote for the same cells through its Rows and Cells, byte for byte, for every kind of value a sheet holds.

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

async function workbook(name: string, open: (file: string) => Promise<WorkbookWriter>): Promise<string> {
  const file = join(dir, `${name}.xlsx`);
  const wb = await open(file);
  const tables: [string, readonly string[], readonly DataRow[]][] = [
    ['Mixed', HEADERS.slice(0, 4), ROWS],
    ['Wide', HEADERS, Array.from({ length: 40 }, (_, i) => wide(i))],
    ['Empty', HEADERS.slice(0, 2), []],
  ];
  for (const [title, headers, rows] of tables) {
    const ws = wb.addWorksheet(title);
    writeDataTable(ws, headers, rows);
    // A row after the table lands where exceljs would put it.
    ws.addRow(['after']).commit();
    ws.commit();
  }
  await wb.commit();
  return file;
}

describe('data rows written as XML', () => {
  it('are the bytes exceljs writes for the same cells: sheets and styles', async () => {
    const ours = await workbook('ours', openWorkbook);
    const theirs = await workbook('theirs', openExceljsWorkbook);
    for (const member of ['xl/worksheets/sheet1.xml', 'xl/worksheets/sheet2.xml', 'xl/worksheets/sheet3.xml', 'xl/styles.xml']) {
      expect(unzip(ours, member), member).toBe(unzip(theirs, member));
    }
    const mixed = unzip(ours, 'xl/worksheets/sheet1.xml');
    expect(mixed).not.toContain('<row r="4"');
    expect(mixed).toContain('<c r="A3" s="');
    expect(mixed).toContain('<row r="1209"');
  });
});
