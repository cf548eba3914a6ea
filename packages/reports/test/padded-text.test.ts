import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PADDED } from '../src/padded-text.js';
import { openWorkbook, readWorkbook } from '../src/sheet.js';
import { font } from '../src/styles.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-padded-text-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sheetXml = (file: string) => execFileSync('unzip', ['-p', file, 'xl/worksheets/sheet1.xml'], { encoding: 'utf8' });

describe('texts with surrounding whitespace', () => {
  it('are the texts starting or ending with whitespace', () => {
    expect(PADDED.test('Company Business leader ')).toBe(true);
    expect(PADDED.test(' x')).toBe(true);
    expect(PADDED.test('\tlead')).toBe(true);
    expect(PADDED.test('Number of task\nruns')).toBe(false);
    expect(PADDED.test('a b')).toBe(false);
    expect(PADDED.test('')).toBe(false);
  });

  it('are written as inline strings with xml:space="preserve", styled, and read back whole; other texts as before', async () => {
    const file = join(dir, 'padded.xlsx');
    const wb = await openWorkbook(file);
    const ws = wb.addWorksheet('Usage Reporting');
    const row = ws.addRow(['Company Business leader ', 'plain', '  <a & b>\t', 7]);
    row.getCell(1).font = font(10, { bold: true });
    row.commit();
    ws.commit();
    await wb.commit();

    const xml = sheetXml(file);
    expect(xml).toMatch(/<c r="A1" s="\d+" t="inlineStr"><is><t xml:space="preserve">Company Business leader <\/t><\/is><\/c>/);
    expect(xml).toContain('<c r="B1" t="str"><v>plain</v></c>');
    expect(xml).toContain('<c r="C1" t="inlineStr"><is><t xml:space="preserve">  &lt;a &amp; b&gt;\t</t></is></c>');
    expect(xml).toContain('<c r="D1"><v>7</v></c>');

    const back = (await readWorkbook(file)).getWorksheet('Usage Reporting')!;
    expect(back.getRow(1).values).toEqual([undefined, 'Company Business leader ', 'plain', '  <a & b>\t', 7]);
    expect(back.getCell('A1').font?.bold).toBe(true);
  });
});
