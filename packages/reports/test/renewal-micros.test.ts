import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRenewalReport, readHostMetrics } from '@tally/reports';
import { applyControllerSchema } from '@tally/demo';
import { DirectoryStorage } from '@tally/storage';
import { createTestDatabase, type TestDatabase } from '@tally/testkit';
import ExcelJS from 'exceljs';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { excelDate, formatG16 } from '../src/excel-date.js';

// The controller's timestamptz values keep microseconds, and so does the reference (psycopg, pandas,
// openpyxl): its date cells hold them in the Excel serial and its day counts and comparisons use
// them. The times below sit where milliseconds would answer differently.
//
// Expected serials: openpyxl's `to_excel`, (dt - datetime(1899, 12, 30)).days +
// (h*3600 + m*60 + s + µs/10**6) / 86400, written as f"{value:.16g}" — computed with python3's
// datetime for each time (the time is in the comment next to it).

let tdb: TestDatabase;
let client: pg.Client;
let ship: string;
const NOW = new Date('2024-05-20T12:00:00Z');
const SINCE = new Date('2024-05-01T00:00:00Z');

beforeAll(async () => {
  tdb = await createTestDatabase('renewal_us');
  client = await tdb.client();
  ship = mkdtempSync(join(tmpdir(), 'tally-renewal-us-'));
  await applyControllerSchema(client);
  const metric = (hostname: string, first: string, last: string, deleted: string | null = null) =>
    client.query('INSERT INTO main_hostmetric (hostname, first_automation, last_automation, automated_counter, deleted, deleted_counter, last_deleted) VALUES ($1,$2,$3,1,$4,$5,$6)', [
      hostname, `${first}+00`, `${last}+00`, deleted !== null, deleted ? 1 : 0, deleted ? `${deleted}+00` : null,
    ]);
  for (const name of ['s1', 's2']) {
    await client.query("INSERT INTO main_host (created, modified, name, variables, ansible_facts, inventory_id) VALUES (now(), now(), $1, '', $2, 1)", [name, '{"ansible_product_serial": "SX"}']);
  }
  // p: a day less 500 µs (0 days; milliseconds make it 1); its first time reads back rounded up (.046)
  await metric('p', '2024-05-02 10:20:30.045999', '2024-05-03 10:20:30.045499');
  // q: deleted; a day and 500 µs; deleted at 12:00:00.9996, which reads back as 12:00:01
  await metric('q', '2024-05-05 00:00:00.000400', '2024-05-06 00:00:00.000900', '2024-05-07 12:00:00.999600');
  // r: first at 21.09375 s, 1/4096 of a day: its serial's 17th digit is a tie (to even: ...062, not ...063)
  await metric('r', '2024-05-10 00:00:21.093750', '2024-05-11 00:00:21.093749');
  // s1 and s2 share a serial: s2 was automated last by 400 µs and names the node
  await metric('s1', '2024-05-11 08:00:00.000800', '2024-05-12 08:00:00.000300');
  await metric('s2', '2024-05-11 08:00:00.000200', '2024-05-12 08:00:00.000700');
  // t: first automated 500 µs after the ephemeral threshold (2024-05-20 00:00 with --ephemeral=1d)
  await metric('t', '2024-05-20 00:00:00.000500', '2024-05-20 06:00:00');
});
afterAll(async () => {
  await tdb?.drop();
  rmSync(ship, { recursive: true, force: true });
});

/** A sheet's cells as the XML holds them: address → the `<v>` text (or null for a cell without one). */
function rawCells(file: string, sheet: number): Map<string, string | null> {
  const xml = execFileSync('unzip', ['-p', file, `xl/worksheets/sheet${sheet}.xml`], { encoding: 'utf8' });
  const out = new Map<string, string | null>();
  for (const m of xml.matchAll(/<c r="([A-Z]+\d+)"[^>]*?(?:\/>|>(?:<v>([^<]*)<\/v>)?.*?<\/c>)/g)) out.set(m[1]!, m[2] ?? null);
  return out;
}
const row = (cells: Map<string, string | null>, r: number, cols = 'ABCDEFG') => [...cols].map((c) => cells.get(`${c}${r}`) ?? null);

const build = async (ephemeralDays?: number) => {
  const storage = new DirectoryStorage({ base: ship });
  const res = await buildRenewalReport({ db: client, storage, since: SINCE, now: NOW, force: true, ...(ephemeralDays ? { ephemeralDays } : {}) });
  expect(res.status).toBe('written');
  return join(ship, res.name);
};

describe('Renewal Guidance keeps the controller\'s microseconds', () => {
  it('reads them from PostgreSQL', async () => {
    const records = await readHostMetrics(client, SINCE);
    const p = records.find((r) => r.hostname === 'p')!;
    expect(p.firstAutomation).toEqual(new Date('2024-05-02T10:20:30.045Z'));
    expect(p.micros).toEqual({ firstAutomation: 999, lastAutomation: 499, lastDeleted: 0 });
    expect(records.find((r) => r.hostname === 'q')!.micros).toEqual({ firstAutomation: 400, lastAutomation: 900, lastDeleted: 600 });
  });

  it('writes each date cell as openpyxl does, and counts days and names nodes to the microsecond', async () => {
    const file = await build();
    const mn = rawCells(file, 2);
    // Host name, First automation, Last automation, Number of Automations, days, Number of Deletions, Last deleted
    expect(row(mn, 2)).toEqual(['p', '45414.43090331017' /* 05-02 10:20:30.045999 */, '45415.43090330439' /* 05-03 10:20:30.045499 */, '1', '0', '0', null]);
    expect(row(mn, 3)).toEqual(['r', '45422.00024414062' /* 05-10 00:00:21.093750 */, '45423.00024414061' /* 05-11 00:00:21.093749 */, '1', '0', '0', null]);
    expect(row(mn, 4)).toEqual(['s2', '45423.33333333565' /* 05-11 08:00:00.000200 */, '45424.33333334143' /* 05-12 08:00:00.000700 */, '2', '1', '0', null]);
    expect(row(mn, 5)).toEqual(['t', '45432.00000000578' /* 05-20 00:00:00.000500 */, '45432.25' /* 05-20 06:00:00 */, '1', '0', '0', null]);
    const deleted = rawCells(file, 3);
    expect(row(deleted, 2)).toEqual(['q', '45417.00000000463' /* 05-05 00:00:00.000400 */, '45418.00000001042' /* 05-06 00:00:00.000900 */, '1', '1', '1', '45419.50001156944' /* 05-07 12:00:00.999600 */]);
    // Read back, a reader rounds to the millisecond as the reference's workbook reads (not truncated).
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(file);
    const sheet = wb.getWorksheet('Managed nodes')!;
    expect(sheet.getCell('B2').value).toEqual(new Date('2024-05-02T10:20:30.046Z'));
    expect(sheet.getCell('B2').numFmt).toBe('yyyy-mm-dd h:mm:ss');
    expect(wb.getWorksheet('Deleted Managed nodes')!.getCell('G2').value).toEqual(new Date('2024-05-07T12:00:01.000Z'));
  });

  it('--ephemeral compares the first automation with the threshold to the microsecond; windows end 1 µs before midnight', async () => {
    const file = await build(1);
    const usage = rawCells(file, 1);
    // t (first 500 µs after the threshold) is not ephemeral; p, r and s2 are (q is deleted)
    expect(row(usage, 4, 'AB')).toEqual(['Automated hosts', '1']);
    expect(row(usage, 5, 'AB')).toEqual(['Ephemeral automated hosts total', '3']);
    const managed = rawCells(file, 2);
    expect(row(managed, 2, 'A')).toEqual(['t']);
    expect(managed.has('A3')).toBe(false);
    const windows = rawCells(file, 4);
    expect(row(windows, 2, 'AB')).toEqual(['45413' /* 05-01 00:00 */, '45413.99999999999' /* 05-01 23:59:59.999999 */]);
  });
});

describe('excelDate', () => {
  it('formats as Python\'s .16g, ties to even', () => {
    expect(excelDate(Date.UTC(2024, 4, 10, 0, 0, 21) * 1000 + 93_750).serial).toBe('45422.00024414062');
    expect(formatG16(45422.000244140625)).toBe('45422.00024414062');
    expect(formatG16(45413)).toBe('45413');
    expect(formatG16(0.5)).toBe('0.5');
    expect(() => formatG16(Number.NaN)).toThrow(RangeError);
  });
});
