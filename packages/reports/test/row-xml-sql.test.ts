import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDuckDb, type TallyDuckDb } from '@tally/dataframes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANAGED_NODES_HEADERS, ManagedNodesTable } from '../src/content-sheets.js';
import { ReportQueries, type ReportTables } from '../src/queries.js';
import { DATA_XML_FIRST_ROW, EXCEL_MAX_CELL_TEXT, openWorkbook, writeDataTable } from '../src/sheet.js';

// The Managed nodes rows' XML built by DuckDB (row-xml-sql.ts) must be the bytes the writer
// writes for the same rows converted to JS (row-xml.ts), styles numbered alike; a value whose XML
// SQL cannot reproduce sends the whole table to the JS rows, and the sheet is the same.

const dir = mkdtempSync(join(tmpdir(), 'tally-row-xml-sql-'));
let db: TallyDuckDb;
beforeAll(async () => {
  db = await openDuckDb();
});
afterAll(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

const unzip = (file: string, member: string) => execFileSync('unzip', ['-p', file, member], { encoding: 'utf8', maxBuffer: 64 << 20 });
const COLUMNS = 'h VARCHAR, orgs BIGINT, n DOUBLE, tr HUGEINT, f TIMESTAMP, l TIMESTAMP';

let tableNo = 0;
/** A table of Managed nodes rows (`hostTotalsSelect`'s columns) from SQL values. */
async function hostsTable(values: string[], extra?: string): Promise<string> {
  const name = `hosts_${++tableNo}`;
  await db.run(`CREATE TABLE ${name} (${COLUMNS})`);
  if (values.length) await db.run(`INSERT INTO ${name} VALUES ${values.map((v) => `(${v})`).join(', ')}`);
  if (extra) await db.run(`INSERT INTO ${name} ${extra}`);
  return name;
}

const tablesOf = (hosts: string): ReportTables => ({ db, hosts: 'unused', jobs: 'unused', empty: false, ready: { hosts, orgs: 'unused' } });

/** The Managed nodes sheet (and a row after it) written by `write`; its sheet and styles XML. */
async function sheet(name: string, write: (ws: Parameters<typeof writeDataTable>[0]) => Promise<void>): Promise<{ sheet: string; styles: string }> {
  const file = join(dir, `${name}.xlsx`);
  const wb = await openWorkbook(file);
  const ws = wb.addWorksheet('Managed nodes');
  await write(ws);
  ws.addRow(['after']).commit();
  ws.commit();
  await wb.commit();
  return { sheet: unzip(file, 'xl/worksheets/sheet1.xml'), styles: unzip(file, 'xl/styles.xml') };
}

/** Both ways, and whether SQL wrote the rows. */
async function bothWays(hosts: string): Promise<{ sql: Awaited<ReturnType<typeof sheet>>; js: Awaited<ReturnType<typeof sheet>>; bySql: boolean }> {
  const label = `${hosts}`;
  const bySql = (await new ReportQueries(tablesOf(hosts)).managedNodesXml(DATA_XML_FIRST_ROW, Promise.resolve({ text: 1, date: 2 }))) !== undefined;
  const sql = await sheet(`${label}-sql`, (ws) => new ManagedNodesTable(new ReportQueries(tablesOf(hosts)), tablesOf(hosts)).write(ws));
  const js = await sheet(`${label}-js`, async (ws) => writeDataTable(ws, MANAGED_NODES_HEADERS, await new ReportQueries(tablesOf(hosts)).managedNodes()));
  return { sql, js, bySql };
}

const q = (text: string) => `'${text.replace(/'/g, "''")}'`;
/** Texts: entities, control characters, JS's whitespace (and characters that are not), other scripts. */
const TEXTS = [
  'a & <b> "c" \'d\'',
  'ctrl\u0001\u001fchar\u007f\u0008\u000b\u000c\u000e',
  ' padded',
  'padded ',
  '\tlead',
  'trail\n',
  'multi\nline',
  'cr\rin',
  '\u00a0nbsp',
  'ideographic\u3000',
  'bom\ufeff',
  'in\ufeffside',
  '\u2028ls',
  'ps\u2029',
  '\u2000en quad',
  'hair space\u200a',
  '\u202fnarrow',
  'mmsp\u205f',
  '\u1680ogham',
  '\u200bzero width is not whitespace',
  '\u0085next line is not whitespace',
  'vt\u000b',
  '\u000cff',
  'ünïcødé ✓ 😀',
  '',
  '&amp; already',
];

describe('Managed nodes rows written as XML by DuckDB', () => {
  it('are the bytes the writer writes for them from JS: texts, counts, timestamps, NULLs, a row of NULLs', async () => {
    const tricky = [
      ...TEXTS.map((t, i) => `${q(t)}, ${i}, ${i * 3}, ${i * 7}, TIMESTAMP '2024-03-01 12:34:56.789500' + INTERVAL ${i * 1001} MICROSECOND, TIMESTAMP '2024-03-31 23:59:59.999499'`),
      `NULL, 2, 5, 9, TIMESTAMP '2024-03-02 00:00:00', NULL`,
      `'h-negative-zero', 1, -0.0, 0, TIMESTAMP '1969-12-31 23:59:59.9995', TIMESTAMP '1970-01-01 00:00:00'`,
      `'h-large', 9007199254740991, 4503599627370497, 9007199254740991, TIMESTAMP '1900-01-01 00:00:00', TIMESTAMP '2099-12-31 23:59:59.999999'`,
      `'h-nulls', NULL, NULL, NULL, NULL, NULL`,
      `'h-one-date', 1, 1, 1, NULL, TIMESTAMP '2024-02-29 06:00:00.0005'`,
      // Ties of .16g (odd multiples of 1/4096 day, 21.09375 s: Python rounds them half to even) and the phantom 1900-02-29's shift.
      `'h-ties', 1, 1, 1, TIMESTAMP '2024-03-01 00:00:21.09375', TIMESTAMP '2024-03-01 00:01:03.28125'`,
      `'h-1900', 1, 1, 1, TIMESTAMP '1900-02-28 23:59:59.999999', TIMESTAMP '1900-03-01 00:00:00.000001'`,
      `'nul' || chr(0) || 'byte', 1, 1, 1, NULL, NULL`,
    ];
    // Random hosts: timestamps to the microsecond over 1900-2099, counts up to 2^40.
    const random = `SELECT 'r-' || i, (hash(i) % 50)::BIGINT, (hash(i * 3) % 1099511627776)::DOUBLE, hash(i * 5) % 1000000,
        TIMESTAMP '1900-01-01' + to_microseconds((hash(i * 7) % 6311433600000000)::BIGINT),
        TIMESTAMP '1900-01-01' + to_microseconds((hash(i * 11) % 6311433600000000)::BIGINT) FROM range(5000) t(i)`;
    const { sql, js, bySql } = await bothWays(await hostsTable(tricky, random));
    expect(bySql).toBe(true);
    expect(sql.sheet).toBe(js.sheet);
    expect(sql.styles).toBe(js.styles);
    expect(sql.sheet).toContain('t="inlineStr"><is><t xml:space="preserve"> padded</t>');
    // openpyxl's serials, by Python: days = (d.date() - date(1899, 12, 30)).days, less one if 0 < days <= 60, then
    // f"{days + (d.hour*3600 + d.minute*60 + d.second + d.microsecond/10**6)/86400:.16g}" (the ties go to even).
    expect(sql.sheet).toContain('><v>45352.00024414062</v></c><c r="F');
    expect(sql.sheet).toContain('><v>45352.00073242188</v></c></row>');
    expect(sql.sheet).toContain('><v>59.99999999998843</v></c><c r="F');
    expect(sql.sheet).toContain('><v>61.00000000001157</v></c></row>');
    expect(sql.sheet).toContain('&lt;b&gt; &quot;c&quot; &apos;d&apos;');
    expect(sql.sheet).toContain('<row r="5006"');
  });

  it('take their row numbers and styles as the writer does: a last row of NULLs, no timestamps at all, no rows', async () => {
    const cases = [
      await hostsTable([`'b', 1, 2, 3, NULL, NULL`, `'a', NULL, NULL, NULL, NULL, NULL`, `NULL, NULL, NULL, NULL, NULL, NULL`]),
      await hostsTable([`NULL, NULL, NULL, NULL, NULL, NULL`]),
      await hostsTable([]),
    ];
    for (const hosts of cases) {
      const { sql, js, bySql } = await bothWays(hosts);
      expect(bySql, hosts).toBe(true);
      expect(sql.sheet, hosts).toBe(js.sheet);
      expect(sql.styles, hosts).toBe(js.styles);
    }
  });

  it('are written from JS, the same sheet, when a value is not SQL-reproducible: a text Excel cuts or one starting with U+FEFF, a timestamp outside 1900-2099, a count not an integer below 2^53', async () => {
    const ok = `'a', 1, 2, 3, TIMESTAMP '2024-03-01 00:00:00', TIMESTAMP '2024-03-02 00:00:00'`;
    const unsafe = [
      `'${'x'.repeat(EXCEL_MAX_CELL_TEXT + 5)}', 1, 1, 1, NULL, NULL`,
      `'b', 1, 1, 1, TIMESTAMP '1899-12-31 23:59:59.999', NULL`,
      `'b', 1, 1, 1, NULL, TIMESTAMP '2100-01-01 00:00:00'`,
      `'b', 1, 1.5, 1, NULL, NULL`,
      `'b', 1, 9007199254740992, 1, NULL, NULL`,
      `'b', 1, 1, 9007199254740993, NULL, NULL`,
      `'b', 1, 'nan'::DOUBLE, 1, NULL, NULL`,
      // The binding's UTF-8 decoding drops a leading byte order mark from the JS rows' texts.
      `'\ufeffbom', 1, 1, 1, NULL, NULL`,
    ];
    for (const row of unsafe) {
      const { sql, js, bySql } = await bothWays(await hostsTable([ok, row]));
      expect(bySql, row.slice(0, 60)).toBe(false);
      expect(sql.sheet, row.slice(0, 60)).toBe(js.sheet);
    }
  });

  it('wait for the sheet in the queue, in their place; a workbook stopping before the sheet lets the queue go on without them', async () => {
    const seen: string[] = [];
    const rows = (sql: string) => {
      seen.push(sql);
      return Promise.resolve([[0]]);
    };
    const recording: ReportTables = { ...tablesOf('ready_hosts'), db: { all: () => Promise.resolve([]), rows } };
    const q = new ReportQueries(recording);
    const table = new ManagedNodesTable(q, recording);
    q.prefetch(() => [table.query(), q.totalQuantity()]);
    await new Promise((r) => setTimeout(r, 20));
    // The count asked after the rows' XML waits for it: the XML's statement waits for the sheet's styles.
    expect(seen).toEqual([]);
    table.abandon();
    await q.settled();
    expect(seen).toEqual(['SELECT count(h) AS n FROM ready_hosts']);
  });

  it('with a second connection, run there: the queries after them do not wait for the sheet, and their failure is the sheet\'s', async () => {
    const seen: string[] = [];
    const connection = (name: string, fail = false) => ({
      all: () => Promise.resolve([]),
      rows: async (sql: string) => {
        seen.push(`${name}: ${sql.slice(0, 24)}`);
        if (fail) throw new Error(`${name} failed`);
        return [[0]];
      },
    });
    const both: ReportTables = { ...tablesOf('ready_hosts'), db: connection('first'), beside: connection('beside', true) };
    const q = new ReportQueries(both);
    const table = new ManagedNodesTable(q, both);
    q.prefetch(() => [table.query(), q.totalQuantity()]);
    // The count runs while the rows' XML still waits for the sheet's styles.
    expect(await q.totalQuantity()).toBe(0);
    expect(seen).toEqual(['first: SELECT count(h) AS n FRO']);
    const wb = await openWorkbook(join(dir, 'beside.xlsx'));
    const ws = wb.addWorksheet('Managed nodes');
    await expect(table.write(ws)).rejects.toThrow('beside failed');
    expect(seen).toEqual(['first: SELECT count(h) AS n FRO', 'beside: WITH t AS (SELECT *, row']);
    await q.settled();
    ws.commit();
    await wb.commit();
  });
});

