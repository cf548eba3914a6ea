import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCsv } from '@tally/core';
import { buildCcspReport, readWorkbook, reportParams, VALID_SHEETS } from '@tally/reports';
import { DirectoryStorage } from '@tally/storage';
import { AUDIT_HEADER, metricsUtilityTarballs, writeCollectionsVectorLake, writeIndirectLake, writeTarball } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The fixture months and the crafted months, every sheet selected, open in LibreOffice: it reads
// every sheet with every text and plain number exactly where the workbook has them (a workbook it
// had to repair, or could not read, would lose some). Without LibreOffice this test is reported
// as skipped, never as passed.

const soffice = ['soffice', 'libreoffice'].find((cmd) => spawnSync('which', [cmd]).status === 0);

const MONTHS = ['2024-02', '2024-03', '2024-04', '2024-07', '2024-08', '2024-09'];
const NOW = new Date(Date.UTC(2024, 9, 2, 10));

let base: string;
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'tally-libreoffice-'));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** Every workbook: CCSPv2 and CCSP, every month, every sheet the type accepts. */
async function buildWorkbooks(ship: string): Promise<string[]> {
  cpSync(join(metricsUtilityTarballs().base, 'data'), join(ship, 'data'), { recursive: true });
  writeIndirectLake(ship);
  writeCollectionsVectorLake(ship);
  writeTarball(ship, '2024-09-02', {
    'main_indirectmanagednodeaudit.csv': `${AUDIT_HEADER}\n2024-09-02 10:00:00+00,sw9,{},"{""infra_type"": ""network""}","[""cisco.ios.ios_command""]",2,2024-09-02 09:59:00+00,5,t,Org C\n`,
  });
  const storage = new DirectoryStorage({ base: ship });
  const files: string[] = [];
  for (const type of ['CCSPv2', 'CCSP'] as const) {
    const { reportPeriod: _, ...params } = reportParams({ reportPeriod: '', pricePerNode: 11.55, sku: 'SKU', companyName: 'Acme', sheets: VALID_SHEETS[type], now: NOW });
    for (const month of MONTHS) {
      const res = await buildCcspReport({ type, storage, period: { month }, params, force: true });
      expect(res.status, `${type} ${month}`).toBe('written');
      files.push(join(ship, res.name));
    }
  }
  return files;
}

/** LibreOffice's CSV of each sheet (as shown), in a private profile (no clash with another running instance). */
function convertSheets(files: readonly string[], out: string): void {
  mkdirSync(out, { recursive: true });
  const r = spawnSync(
    soffice!,
    [
      '--headless',
      '--norestore',
      `-env:UserInstallation=file://${join(base, 'profile')}`,
      '--convert-to',
      // Comma, double quote, UTF-8, from row 1, formatted as shown, every sheet to its own file.
      'csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1',
      '--outdir',
      out,
      ...files,
    ],
    { timeout: 180_000, encoding: 'utf8' },
  );
  expect(r.status, r.stderr).toBe(0);
}

describe.skipIf(!soffice)('LibreOffice opens every workbook', () => {
  it('fixture and crafted months, CCSPv2 and CCSP, every sheet: each sheet read with its texts and plain numbers', async () => {
    const files = await buildWorkbooks(join(base, 'ship'));
    const out = join(base, 'csv');
    convertSheets(files, out);
    let checked = 0;
    for (const file of files) {
      const wb = await readWorkbook(file);
      const stem = file.split('/').at(-1)!.replace(/\.xlsx$/, '');
      for (const ws of wb.worksheets) {
        const csv = join(out, `${stem}-${ws.name}.csv`);
        expect(existsSync(csv), `${stem}: LibreOffice did not read sheet ${ws.name}`).toBe(true);
        const shown = parseCsv(readFileSync(csv, 'utf8'));
        ws.eachRow((row, r) => {
          row.eachCell((cell, c) => {
            // A merged range's other cells repeat its first cell's value in exceljs; the file holds it once.
            if (cell.master.address !== cell.address) return;
            const v = cell.value;
            const at = `${stem} ${ws.name} ${cell.address}`;
            if (typeof v === 'string') {
              // LibreOffice drops a text's surrounding spaces (the reference's "Company Business leader "
              // label): exceljs writes texts inline as <v>, without xml:space="preserve".
              expect(shown[r - 1]?.[c - 1] ?? '', at).toBe(v.trim());
              checked++;
            } else if (typeof v === 'number' && !cell.numFmt) {
              expect(Number(shown[r - 1]?.[c - 1]), at).toBeCloseTo(v, 6);
              checked++;
            }
          });
        });
      }
    }
    // The sheets under test were there, with content.
    expect(checked).toBeGreaterThan(1000);
  }, 240_000);
});
