import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseCsv } from '@tally/core';
import { buildCcspReport, reportParams } from '@tally/reports';
import { DirectoryStorage } from '@tally/storage';
import { metricsUtilityTarballs } from '@tally/testkit';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// METRICS_UTILITY_PRICE_PER_NODE=11.555: the reference's round(11.555, 2) is 11.55 (11.555 is
// 11.55499999999999971578… in binary); half-up on x·100 gave 11.56, a cent more per node.

const MONTH = '2024-03';
const PRICE = 11.555;
const CENTS = 1155;
const soffice = ['soffice', 'libreoffice'].find((cmd) => spawnSync('which', [cmd]).status === 0);

let ship: string;
const written: Record<'CCSP' | 'CCSPv2', string> = { CCSP: '', CCSPv2: '' };

beforeAll(async () => {
  ship = mkdtempSync(join(tmpdir(), 'tally-price-'));
  cpSync(join(metricsUtilityTarballs().base, 'data'), join(ship, 'data'), { recursive: true });
  const storage = new DirectoryStorage({ base: ship });
  const { reportPeriod: _, ...params } = reportParams({ reportPeriod: '', pricePerNode: PRICE, sku: 'SKU', now: new Date(Date.UTC(2024, 9, 2)) });
  for (const type of ['CCSP', 'CCSPv2'] as const) {
    const res = await buildCcspReport({ type, storage, period: { month: MONTH }, params, force: true });
    expect(res.status).toBe('written');
    written[type] = join(ship, res.name);
  }
});
afterAll(() => rmSync(ship, { recursive: true, force: true }));

async function usageSheet(path: string): Promise<ExcelJS.Worksheet> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(path);
  return wb.getWorksheet('Usage Reporting')!;
}

/** `$#,##0.00` of a whole number of cents, as a spreadsheet shows it. */
const dollars = (cents: number) => `$${Math.trunc(cents / 100).toLocaleString('en-US')}.${String(cents % 100).padStart(2, '0')}`;

describe('the unit price is round(price, 2) as Python rounds it', () => {
  it('CCSP: every organization row prices 11.55, E multiplies the rounded price, the sum covers the rows; MSRP is str(11.555)', async () => {
    const ws = await usageSheet(written.CCSP);
    expect(ws.getCell('G15').value).toBe('11.555');
    let r = 18;
    const bills: number[] = [];
    for (; ws.getCell(`A${r}`).value !== 'Sum of monthly payment'; r++) {
      expect(ws.getCell(`D${r}`).value, `D${r}`).toBe(11.55);
      expect(ws.getCell(`E${r}`).value).toEqual({ formula: `C${r}*D${r}` });
      bills.push((ws.getCell(`C${r}`).value as number) * CENTS);
    }
    expect(bills.length).toBeGreaterThan(0);
    expect(ws.getCell(`E${r}`).value).toEqual({ formula: `SUM(E18:E${r - 1})` });
  });

  it('CCSPv2: I7 is 11.55, J7 = G7*I7, the grand total sums J7:J12', async () => {
    const ws = await usageSheet(written.CCSPv2);
    expect(ws.getCell('G7').value).toBeGreaterThan(0);
    expect(ws.getCell('I7').value).toBe(11.55);
    expect(ws.getCell('J7').value).toEqual({ formula: 'G7*I7' });
    expect(ws.getCell('J2').value).toEqual({ formula: 'SUM(J7:J12)' });
  });

  it('a price no cell can show (NaN, an infinity) or no bill should (a negative one) is refused before anything is read', async () => {
    const storage = new DirectoryStorage({ base: join(ship, 'none') });
    for (const pricePerNode of [Number.NaN, Infinity, -5]) {
      const { reportPeriod: _, ...params } = reportParams({ reportPeriod: '', pricePerNode });
      await expect(buildCcspReport({ type: 'CCSP', storage, period: { month: MONTH }, params, force: true })).rejects.toThrow(ConfigError);
    }
  });

  // The totals are formulas; a spreadsheet works them out (the CSV holds each cell as shown, `$#,##0.00`).
  // Without LibreOffice this is reported as skipped.
  it.skipIf(!soffice)('LibreOffice works out every bill and total from 11.55 a node', async () => {
    const out = join(ship, 'csv');
    const r = spawnSync(
      soffice!,
      ['--headless', '--norestore', `-env:UserInstallation=file://${join(ship, 'profile')}`, '--convert-to', 'csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1', '--outdir', out, written.CCSP, written.CCSPv2],
      { timeout: 180_000, encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    const shown = (type: 'CCSP' | 'CCSPv2') => parseCsv(readFileSync(join(out, `${type}-${MONTH}-Usage Reporting.csv`), 'utf8'));

    const v1 = shown('CCSP');
    const rows = v1.slice(17).filter((row) => row[0] && row[0] !== 'Sum of monthly payment');
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect([row[3], row[4]]).toEqual([dollars(CENTS), dollars(Number(row[2]) * CENTS)]);
    const total = rows.reduce((s, row) => s + Number(row[2]) * CENTS, 0);
    expect(v1[17 + rows.length]?.[4]).toBe(dollars(total));

    const v2 = shown('CCSPv2');
    const quantity = Number(v2[6]![6]);
    expect([v2[6]![8], v2[6]![9], v2[1]![9]]).toEqual([dollars(CENTS), dollars(quantity * CENTS), dollars(quantity * CENTS)]);
  }, 240_000);
});
