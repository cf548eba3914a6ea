import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReportError } from '@tally/core';
import { afterAll, describe, expect, it } from 'vitest';
import { checkSheetSize, EXCEL_MAX_COLUMNS, EXCEL_MAX_ROWS, openWorkbook, readWorkbook, writeDataTable } from '../src/sheet.js';

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
});
