import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRenewalReport, type HostMetricRecord, readHostMetrics } from '@tally/reports';
import { ansibleHostOf, HOST_METRIC_HEADERS } from '../src/renewal.js';
import { dedupGroups, inReferenceOrder } from '../src/renewal-dedup.js';
import { DirectoryStorage } from '@tally/storage';
import { createTestDatabase, type TestDatabase } from '@tally/testkit';
import ExcelJS from 'exceljs';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyControllerSchema } from '@tally/demo';

let tdb: TestDatabase;
let client: pg.Client;
let ship: string;
const NOW = new Date('2024-05-20T12:00:00Z');

beforeAll(async () => {
  tdb = await createTestDatabase('reports');
  client = await tdb.client();
  ship = mkdtempSync(join(tmpdir(), 'tally-renewal-'));
  await applyControllerSchema(client);
  const host = (name: string, variables: string | null, facts: Record<string, string>) =>
    client.query("INSERT INTO main_host (created, modified, name, variables, ansible_facts, inventory_id) VALUES (now(), now(), $1, $2, $3, 1)", [
      name, variables ?? '', JSON.stringify(facts),
    ]);
  const metric = (hostname: string, first: string, last: string, counter: number, deleted = false) =>
    client.query('INSERT INTO main_hostmetric (hostname, first_automation, last_automation, automated_counter, deleted, deleted_counter, last_deleted) VALUES ($1,$2,$3,$4,$5,$6,$7)', [
      hostname, first, last, counter, deleted, deleted ? 1 : 0, deleted ? last : null,
    ]);
  // a + a.example.com share a serial; b and b-old share ansible_host (YAML vars); c alone; d deleted; e's serial is NA
  await host('a', '{"ansible_host": "10.0.0.1"}', { ansible_product_serial: 'S1', ansible_machine_id: 'M1' });
  await host('a.example.com', null, { ansible_product_serial: 'S1' });
  await host('b', 'ansible_host: 10.0.0.2\nfoo: bar', {});
  await host('b-old', "ansible_host: '10.0.0.2'", {});
  await host('c', null, { ansible_product_serial: 'NA', ansible_machine_id: '' });
  await host('e', null, { ansible_product_serial: 'NA' });
  await metric('a', '2024-05-01', '2024-05-10', 5);
  await metric('a.example.com', '2024-04-20', '2024-05-12', 2);
  await metric('b', '2024-05-15', '2024-05-16', 1);
  await metric('b-old', '2024-05-14', '2024-05-14', 1, true);
  await metric('c', '2024-05-02', '2024-05-03', 3);
  await metric('d', '2024-05-05', '2024-05-06', 1, true);
  await metric('e', '2024-05-18', '2024-05-19', 1);
  await metric('old', '2023-01-01', '2023-02-01', 1);
});
afterAll(async () => {
  await tdb?.drop();
  rmSync(ship, { recursive: true, force: true });
});

const readBook = async (path: string) => {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(path);
  return wb;
};
const col = (ws: ExcelJS.Worksheet, c: number) => Array.from({ length: ws.rowCount - 1 }, (_, i) => ws.getRow(i + 2).getCell(c).value);

describe('renewal guidance', () => {
  it('de-duplicates by host name, ansible_host, serial and machine id', async () => {
    const storage = new DirectoryStorage({ base: ship });
    const res = await buildRenewalReport({ db: client, storage, since: new Date('2024-05-01T00:00:00Z'), now: NOW });
    expect(res).toMatchObject({ status: 'written', name: 'reports/2024/05/RENEWAL_GUIDANCE-2024-05-01--2024-05-20.xlsx' });
    const wb = await readBook(join(ship, res.name));
    expect(wb.worksheets.map((w) => w.name)).toEqual(['Usage Reporting', 'Managed nodes', 'Deleted Managed nodes']);
    const ur = wb.getWorksheet('Usage Reporting')!;
    expect(ur.model.merges).toEqual(['A1:B1']);
    expect([ur.getCell('A1').value, ur.getCell('D1').value, ur.getCell('A2').value, ur.getCell('B2').value]).toEqual([
      'Renewal guidance', 'Updated: May 20, 2024', 'Report Period (YYYY-MM-DD, YYYY-MM-DD)', '2024-05-01, 2024-05-20',
    ]);
    // groups: {a, a.example.com}, {b, b-old}, {c}, {d (deleted)}, {e}; "old" is before since
    expect([ur.getCell('A3').value, ur.getCell('B3').value]).toEqual(['Description', 'Quantity']);
    expect([ur.getCell('A4').value, ur.getCell('B4').value, ur.getCell('A5').value, ur.getCell('B5').value]).toEqual(['Automated hosts', 4, 'Deleted Automated hosts', 1]);
    const mn = wb.getWorksheet('Managed nodes')!;
    expect((mn.getRow(1).values as unknown[]).slice(1)).toEqual(HOST_METRIC_HEADERS);
    expect(col(mn, 1)).toEqual(['a.example.com', 'b', 'c', 'e']);
    const a = (mn.getRow(2).values as unknown[]).slice(1);
    expect(a).toEqual([
      'a.example.com', new Date('2024-04-20T00:00:00Z'), new Date('2024-05-12T00:00:00Z'), 7, 22, 0, null, 2, 2, 0, 'a, a.example.com', '10.0.0.1', 'S1', 'M1',
    ].map((v) => v ?? undefined));
    expect(mn.getCell('B2').numFmt).toBe('yyyy-mm-dd h:mm:ss');
    const b = (mn.getRow(3).values as unknown[]).slice(1);
    expect([b[0], b[7], b[8], b[9], b[10], b[11]]).toEqual(['b', 2, 1, 1, 'b, b-old', '10.0.0.2']);
    expect(mn.getRow(4).getCell(13).value ?? '').toBe(''); // "NA" serial is missing, not shared
    expect(col(wb.getWorksheet('Deleted Managed nodes')!, 1)).toEqual(['d']);
  });

  it('--ephemeral splits short-lived nodes and counts concurrent usage per window', async () => {
    const storage = new DirectoryStorage({ base: ship });
    const res = await buildRenewalReport({ db: client, storage, since: new Date('2024-05-01T00:00:00Z'), now: NOW, ephemeralDays: 3, force: true });
    const wb = await readBook(join(ship, res.name));
    expect(wb.worksheets.map((w) => w.name)).toEqual(['Usage Reporting', 'Managed nodes', 'Managed nodes ephemeral', 'Managed nodes ephemeral usage', 'Deleted Managed nodes']);
    const ur = wb.getWorksheet('Usage Reporting')!;
    // threshold = 2024-05-18 00:00: c (1 day, first 05-02) and b (1 day, first 05-14) are ephemeral; e (first 05-18) too; a lasted 22 days
    expect(col(wb.getWorksheet('Managed nodes ephemeral')!, 1)).toEqual(['b', 'c', 'e']);
    expect(col(wb.getWorksheet('Managed nodes')!, 1)).toEqual(['a.example.com']);
    const usage = wb.getWorksheet('Managed nodes ephemeral usage')!;
    expect(usage.rowCount - 1).toBe(18); // windows starting 05-01 … 05-18, 3 days each, ending by 05-20
    expect(usage.getCell('A2').value).toEqual(new Date('2024-05-01T00:00:00Z'));
    // The window ends at 23:59:59.999999, kept in the serial as openpyxl keeps it: read back rounded
    // to the millisecond (as the reference's workbook reads), it is the next midnight.
    expect(usage.getCell('B2').value).toEqual(new Date('2024-05-04T00:00:00.000Z'));
    expect(Math.max(...col(usage, 3).map(Number))).toBe(2); // b (05-14..16) and e (05-18..19) share the 05-16..05-18 window
    expect([4, 5, 6, 7].map((r) => ur.getCell(`A${r}`).value)).toEqual([
      'Automated hosts', 'Ephemeral automated hosts total', 'Ephemeral automated hosts maximum\nconcurrent usage in defined interval', 'Deleted Automated hosts',
    ]);
    expect([4, 5, 6, 7].map((r) => ur.getCell(`B${r}`).value)).toEqual([1, 3, 2, 1]);
  });

  it("reads host metrics in the reference's order, CONCAT(hostname, '___', host id) under the database's collation, paged without loss", async () => {
    // a second inventory host named c
    await client.query("INSERT INTO main_host (created, modified, name, ansible_facts, inventory_id) VALUES (now(), now(), 'c', '{\"ansible_machine_id\": \"M9\"}', 2)");
    try {
      const since = new Date('2024-05-01T00:00:00Z');
      const all = await readHostMetrics(client, since);
      const paged = await readHostMetrics(client, since, 2);
      expect(paged).toEqual(all);
      const keys = all.map((r) => `${r.hostname}___${r.hostId}`);
      const { rows } = await client.query<{ k: string }>(
        `SELECT CONCAT(hm.hostname, '___', COALESCE(h.id, 0)) AS k FROM main_hostmetric hm LEFT JOIN main_host h ON h.name = hm.hostname
          WHERE hm.last_automation >= $1 ORDER BY 1`,
        [since],
      );
      expect(keys).toEqual(rows.map((r) => r.k));
      expect(new Set(all.map((r) => r.hostname))).toEqual(new Set(['a', 'a.example.com', 'b', 'b-old', 'c', 'd', 'e']));
      expect(all.filter((r) => r.hostname === 'c').map((r) => r.ansibleMachineId)).toEqual(['', 'M9']);
      // the same key in code-point order is PostgreSQL's "C" collation ('.' sorts before '_')
      const { rows: c } = await client.query<{ k: string }>(`SELECT k FROM unnest($1::text[]) k ORDER BY k COLLATE "C"`, [keys]);
      expect(inReferenceOrder(all).map((r) => `${r.hostname}___${r.hostId}`)).toEqual(c.map((r) => r.k));
      expect(c.map((r) => r.k).slice(0, 2)).toEqual(['a.example.com___2', 'a___1']);
    } finally {
      await client.query("DELETE FROM main_host WHERE name = 'c' AND ansible_facts->>'ansible_machine_id' = 'M9'");
    }
  });

  it('reads ansible_host from JSON or YAML host variables', () => {
    expect(ansibleHostOf('{"ansible_host": "1.2.3.4", "x": 1}')).toBe('1.2.3.4');
    expect(ansibleHostOf('---\nansible_host: "h.example.com"\nother: 1')).toBe('h.example.com');
    expect(ansibleHostOf('foo: bar')).toBeNull();
    expect(ansibleHostOf(null)).toBeNull();
  });

  it('an existing report is kept unless forced', async () => {
    const storage = new DirectoryStorage({ base: ship });
    const res = await buildRenewalReport({ db: client, storage, since: new Date('2024-05-01T00:00:00Z'), now: NOW });
    expect(res.status).toBe('skipped');
  });

  it('groups 100k records, honouring the iteration limit (its speed is measured by pnpm bench)', () => {
    const make = (n: number): HostMetricRecord[] =>
      Array.from({ length: n }, (_, i) => ({
        hostname: `h${i}`, hostId: i, firstAutomation: null, lastAutomation: null, automatedCounter: 1, deletedCounter: 0, lastDeleted: null, deleted: false,
        // pairs share a serial, quadruples share a machine id
        ansibleProductSerial: `s${i >> 1}`, ansibleMachineId: `m${i >> 2}`, ansibleHostVariable: null,
      }));
    const recs = make(100_000);
    expect(dedupGroups(recs, 3)).toHaveLength(25_000);
    // a chain a-b-c-d-e linked by serial, then machine id, then serial …: serial before machine id in one
    // iteration follows two links; machine id before serial waits for the next iteration
    const chain: HostMetricRecord[] = ['a', 'b', 'c', 'd', 'e'].map((h, i) => ({ ...recs[0]!, hostname: h, ansibleProductSerial: i % 2 ? `x${i}` : `x${i + 1}`, ansibleMachineId: i % 2 ? `y${i + 1}` : `y${i}` }));
    expect(dedupGroups(chain, 4)).toHaveLength(1);
    expect(dedupGroups(chain, 1).length).toBeGreaterThan(1);
  });
});
