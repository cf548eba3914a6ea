import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rollup } from '@tally/dataframes';
import { buildCcspReport, type BuildResult, reportParams, VALID_SHEETS } from '@tally/reports';
import { DirectoryStorage } from '@tally/storage';
import { AUDIT_HEADER, csvJson, JHS_HEADER, MAIN_HOST_HEADER, STATUS_HEADER, writeTarball } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The tarballs' timestamps carry microseconds, which DuckDB keeps (TIMESTAMP is µs) and so does the
// reference (pandas, openpyxl): every datetime cell of CCSP and CCSPv2 holds them in the Excel serial,
// whether the day is read from its tarball or from its daily rollup. The times below sit where
// milliseconds would write another serial, and one is a tie of `.16g`.
//
// Expected serials: openpyxl's `to_excel`, (d.date() - date(1899, 12, 30)).days +
// (d.hour*3600 + d.minute*60 + d.second + d.microsecond/10**6) / 86400, written as f"{value:.16g}"
// — computed with python3's datetime for each time (the time is in the comment next to it).

const NOW = new Date(Date.UTC(2024, 9, 2, 10));
const MONTH = { month: '2024-03' };
let base: string;
let storage: DirectoryStorage;

const jhs = (rows: string[]) => `${JHS_HEADER}\n${rows.map((r) => `${r}\n`).join('')}`;
const audit = (created: string, runs: number, job: number) =>
  `${created},sw1,${csvJson({ serial: 'S1' })},${csvJson({ device_type: 'ios' })},${csvJson(['cisco.ios.ios_command'])},${runs},2024-03-06 11:00:00.000001+00,${job},scan,Org B\n`;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'tally-ccsp-us-'));
  writeTarball(base, '2024-03-05', {
    'job_host_summary.csv': jhs([
      '1,2024-03-05 10:00:00.123456+00,x,a,,0,0,3,0,0,0,2024-03-05 09:59:59.999500+00,7,deploy,Org A',
      // 10:00:49.21875 is 1709/4096 of a day: its serial's 17th digit is a 5 after an even digit (toPrecision would round up)
      '2,2024-03-05 10:00:49.218750+00,x,a,,0,0,2,0,0,0,2024-03-05 09:59:00.000001+00,8,deploy,Org A',
      '3,2024-03-05 23:59:59.999999+00,x,b,,0,0,1,0,0,0,2024-03-05 23:00:00.000500+00,9,deploy,Org A',
    ]),
    'main_host.csv': `${MAIN_HOST_HEADER}\na,inv1,Org A,2024-03-04 08:00:00.000001+00,,${csvJson({})},${csvJson({})}\n`,
    'data_collection_status.csv': `${STATUS_HEADER}\n2024-03-06 00:10:00.123456+00,2024-03-05 00:00:00.000250+00,2024-03-05 23:59:59.999999+00,job_host_summary.csv,ok,0.5\n`,
  });
  writeTarball(base, '2024-03-06', {
    'main_indirectmanagednodeaudit.csv': `${AUDIT_HEADER}\n${audit('2024-03-06 12:00:00.000500+00', 2, 20)}${audit('2024-03-06 12:30:00.654321+00', 1, 21)}`,
  });
  storage = new DirectoryStorage({ base });
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** Every worksheet's XML by sheet name. */
function sheetsXml(file: string): Map<string, string> {
  const unzip = (name: string) => execFileSync('unzip', ['-p', file, name], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const names = [...unzip('xl/workbook.xml').matchAll(/<sheet [^>]*?name="([^"]*)"/g)].map((m) => m[1]!);
  return new Map(names.map((name, i) => [name, unzip(`xl/worksheets/sheet${i + 1}.xml`)]));
}

/** A sheet's cells as the XML holds them: address → the `<v>` text (null for a cell without one). */
function rawCells(xml: string): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (const m of xml.matchAll(/<c r="([A-Z]+\d+)"[^>]*?(?:\/>|>(?:<v>([^<]*)<\/v>)?.*?<\/c>)/g)) out.set(m[1]!, m[2] ?? null);
  return out;
}

async function build(sheets: readonly string[], from: 'raw' | 'auto'): Promise<{ res: BuildResult; xml: Map<string, string> }> {
  const { reportPeriod: _, ...params } = reportParams({ reportPeriod: '', pricePerNode: 10, sheets, now: NOW });
  const res = await buildCcspReport({ type: 'CCSPv2', storage, period: MONTH, params, from, force: true });
  expect(res.status).toBe('written');
  return { res, xml: sheetsXml(join(base, res.name)) };
}

// Host a: first 2024-03-05 10:00:00.123456, last 10:00:49.218750; host b: 2024-03-05 23:59:59.999999.
const A_FIRST = '45356.41666809555';
const A_LAST = '45356.41723632812';
const B_BOTH = '45356.99999999999';
// sw1 (INDIRECT): first 2024-03-06 12:00:00.000500, last 12:30:00.654321.
const SW1_FIRST = '45357.50000000578';
const SW1_LAST = '45357.52084090649';

/** The date cells every CCSPv2 sheet must hold, by sheet and address. */
const EXPECTED: Record<string, Record<string, string>> = {
  // First/last run: min and max job_created, 09:59:00.000001 and 23:00:00.000500; INDIRECT: 2024-03-06 11:00:00.000001.
  Jobs: { G2: '45356.41597222223', H2: '45356.95833333912', G3: '45357.45833333334', H3: '45357.45833333334' },
  'Indirectly Managed nodes': { E2: SW1_FIRST, F2: SW1_LAST },
  // main_host's last_automation 2024-03-04 08:00:00.000001.
  'Inventory Scope': { B2: '45355.33333333334' },
  // Gaps: 2024-03-01 to the since 2024-03-05 00:00:00.000250, the until 2024-03-05 23:59:59.999999 to 2024-04-01;
  // the collection at 2024-03-06 00:10:00.123456.
  'Data collection status': { B2: '45352', C2: '45356.0000000029', B3: B_BOTH, C3: '45383', A6: '45357.00694587333', B6: '45356.0000000029', C6: B_BOTH },
};
const MANAGED_NODES = { E2: A_FIRST, F2: A_LAST, E3: B_BOTH, F3: B_BOTH };
const BY_ORG_SHEETS = { 'Org A': { D2: A_FIRST, E2: A_LAST, D3: B_BOTH, E3: B_BOTH }, 'Org B': { D2: SW1_FIRST, E2: SW1_LAST } };

function expectCells(xml: Map<string, string>, expected: Record<string, Record<string, string>>, label: string): void {
  for (const [sheet, cells] of Object.entries(expected)) {
    const raw = rawCells(xml.get(sheet) ?? '');
    for (const [address, serial] of Object.entries(cells)) expect(raw.get(address), `${label} ${sheet}!${address}`).toBe(serial);
  }
}

describe('CCSPv2 datetime cells keep the tarballs\' microseconds', () => {
  // Every sheet (Managed nodes with a column per organization, written from JS), then Managed nodes alone (its rows written by DuckDB).
  const byOrg = VALID_SHEETS.CCSPv2;
  const sqlRows = ['ccsp_summary', 'managed_nodes'];

  it('from the raw tarballs, then from daily rollups: the same serials, openpyxl\'s', async () => {
    const raw = { all: await build(byOrg, 'raw'), sql: await build(sqlRows, 'raw') };
    expectCells(raw.all.xml, { ...EXPECTED, ...BY_ORG_SHEETS, 'Managed nodes': { ...MANAGED_NODES, G2: A_LAST, G3: B_BOTH } }, 'raw');
    expectCells(raw.sql.xml, { 'Managed nodes': MANAGED_NODES }, 'raw, rows by SQL');
    expect(raw.sql.xml.get('Managed nodes')).not.toContain('<c r="G2"');

    await rollup({ storage, since: new Date('2024-03-05T00:00:00Z'), until: new Date('2024-03-07T00:00:00Z'), period: 'day' });
    for (const [label, sheets, from] of [['all', byOrg, raw.all], ['sql', sqlRows, raw.sql]] as const) {
      const rolled = await build(sheets, 'auto');
      expect(rolled.res.read?.days.raw ?? [], label).toEqual([]);
      expect(rolled.res.read?.days.rollup ?? [], label).toEqual(['2024-03-05', '2024-03-06']);
      // Every sheet byte for byte.
      expect([...rolled.xml.keys()], label).toEqual([...from.xml.keys()]);
      for (const [name, xml] of from.xml) expect(rolled.xml.get(name), `${label} ${name}`).toBe(xml);
    }
  }, 60_000);
});
