import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReportError } from '@tally/core';
import { afterAll, describe, expect, it } from 'vitest';
import { checkSheetSize, EXCEL_MAX_CELL_TEXT, EXCEL_MAX_COLUMNS, EXCEL_MAX_ROWS, openWorkbook, readWorkbook, writeDataTable } from '../src/sheet.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-sheet-size-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sheets beyond what Excel opens', () => {
  it('are refused with the sheet named and the limits given', () => {
    expect(() => checkSheetSize('Managed nodes', EXCEL_MAX_ROWS, EXCEL_MAX_COLUMNS)).not.toThrow();
    expect(() => checkSheetSize('Managed nodes', EXCEL_MAX_ROWS + 1, 6)).toThrow(ReportError);
    expect(() => checkSheetSize('Managed nodes', EXCEL_MAX_ROWS + 1, 6)).toThrow(
      'sheet "Managed nodes" would have 1,048,577 rows and 6 columns; Excel allows at most 1,048,576 rows and 16,384 columns',
    );
    expect(() => checkSheetSize('Managed nodes', 2, EXCEL_MAX_COLUMNS + 1)).toThrow(/16,385 columns/);
  });

  it('fail a data table before any row is written (header + 1,048,576 rows is one too many)', async () => {
    const wb = await openWorkbook(join(dir, 'big.xlsx'));
    const ws = wb.addWorksheet('Managed nodes');
    // Sparse: the size is checked before the rows are read.
    expect(() => writeDataTable(ws, ['Host name'], new Array(EXCEL_MAX_ROWS))).toThrow(/sheet "Managed nodes" would have 1,048,577 rows/);
    writeDataTable(ws, ['Host name'], [['host-1']]);
    ws.commit();
    await wb.commit();
    const back = (await readWorkbook(join(dir, 'big.xlsx'))).getWorksheet('Managed nodes');
    expect(back?.getSheetValues().slice(1).map((r) => (r as unknown[])[1])).toEqual(['Host name', 'host-1']);
  });

  it('cut a text too long for a cell to fit, saying so, and leave shorter texts and numbers alone', async () => {
    const file = join(dir, 'long.xlsx');
    const wb = await openWorkbook(file);
    const ws = wb.addWorksheet('Renewal');
    const long = 'host-1.example.com, '.repeat(2000); // 40,000 characters
    const fits = 'x'.repeat(EXCEL_MAX_CELL_TEXT);
    // A surrogate pair (an emoji) straddling the cut is not split.
    const emoji = `${'y'.repeat(EXCEL_MAX_CELL_TEXT - 35)}😀${'z'.repeat(100)}`;
    writeDataTable(ws, ['Hostnames', 'Count'], [[long, 123456789], [fits, 1], [emoji, 2]]);
    ws.commit();
    await wb.commit();
    const rows = (await readWorkbook(file)).getWorksheet('Renewal')?.getSheetValues() as unknown[][];
    const cut = String(rows[2]?.[1]);
    expect(cut.length).toBeLessThanOrEqual(EXCEL_MAX_CELL_TEXT);
    expect(cut.startsWith(long.slice(0, 30_000))).toBe(true);
    expect(cut.endsWith(' … [cut: 40,000 characters in all]')).toBe(true);
    expect(rows[2]?.[2]).toBe(123456789);
    expect(rows[3]?.[1]).toBe(fits);
    // The cut would fall between the emoji's two halves: it moves before the emoji.
    expect(rows[4]?.[1]).toBe(`${'y'.repeat(EXCEL_MAX_CELL_TEXT - 35)} … [cut: 32,834 characters in all]`);
  });
});
