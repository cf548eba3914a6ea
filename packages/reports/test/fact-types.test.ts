import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manifestName, rollup } from '@tally/dataframes';
import { buildCcspReport, readWorkbook, reportParams } from '@tally/reports';
import { DirectoryStorage } from '@tally/storage';
import { AUDIT_HEADER, csvJson, MAIN_HOST_HEADER, writeTarball } from '@tally/testkit';
import type ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Facts keep the types json.loads gives them, from the CSVs and from daily rollups alike: the
// cells are the reference's json.dumps of them (hand-computed below), and where the reference
// fails (a key with texts and numbers) Tally's order puts the numbers first.

const SHEETS = ['ccsp_summary', 'indirectly_managed_nodes', 'inventory_scope', 'infrastructure_summary'];
const NOW = new Date(Date.UTC(2024, 9, 2, 10));
const { reportPeriod: _, ...params } = reportParams({ reportPeriod: '', pricePerNode: 10, sheets: SHEETS, now: NOW });

// JSON.stringify writes 1.0 as 1: a float with no fraction goes in as a quoted text replaced by its literal.
const audit = (host: string, canonical: unknown, facts: unknown, runs: number) =>
  `2024-09-02 10:00:00+00,${host},${csvJson(canonical)},${csvJson(facts)},"[""cisco.ios.ios_command""]",${runs},2024-09-02 09:59:00+00,5,t,Org C\n`;
const host = (inventory: string, canonical: unknown, facts: unknown) => `m1,${inventory},Org C,2024-09-02 10:00:00+00,,${csvJson(canonical)},${csvJson(facts)}\n`;

let ship: string;
let storage: DirectoryStorage;
beforeAll(() => {
  ship = mkdtempSync(join(tmpdir(), 'tally-fact-types-'));
  writeTarball(ship, '2024-09-02', {
    'main_indirectmanagednodeaudit.csv':
      `${AUDIT_HEADER}\n` +
      audit('sw1', { serial: 'S1' }, { infra_type: 'network', infra_bucket: 'switches', device_type: 'ios', cores: 4, ha: true, ratio: '1.0', ver: '4' }, 2).replace('""1.0""', '1.0') +
      audit('sw1', { serial: 'S1' }, { cores: 16, ratio: 2.5, ver: 4, gone: null, empty: '', na: 'NA', s: 'null' }, 1) +
      audit('dev2', { id: 'BIG' }, { infra_type: 7, infra_bucket: true, device_type: '2.0' }, 1).replace('""BIG""', '12345678901234567890123').replace('""2.0""', '2.0') +
      audit('dev3', {}, { infra_type: '7.0', infra_bucket: true, device_type: 2 }, 1).replace('""7.0""', '7.0'),
    'main_host.csv':
      `${MAIN_HOST_HEADER}\n` +
      host('I1', { ansible_machine_id: 'M1', n: 3 }, { ansible_processor_vcpus: 8, virt: false, mem: 0.5 }) +
      host('I2', { ansible_machine_id: 'M1' }, { ansible_processor_vcpus: '8.0', virt: 0 }).replace('""8.0""', '8.0'),
  });
  storage = new DirectoryStorage({ base: ship });
});
afterAll(() => rmSync(ship, { recursive: true, force: true }));

/** Values of the first `n` columns of every row after the header. */
const table = (ws: ExcelJS.Worksheet, n: number) => {
  const out: unknown[][] = [];
  for (let r = 2; r <= ws.rowCount; r++) out.push(Array.from({ length: n }, (_, c) => ws.getCell(r, c + 1).value ?? null));
  return out;
};

async function build(from: 'raw' | 'auto') {
  const res = await buildCcspReport({ type: 'CCSPv2', storage, period: { month: '2024-09' }, params, from, force: true });
  expect(res.status).toBe('written');
  const wb = await readWorkbook(join(ship, res.name));
  const sheets = Object.fromEntries(['Indirectly Managed nodes', 'Inventory Scope', 'Infrastructure Summary'].map((s) => [s, table(wb.getWorksheet(s)!, 10)]));
  return { res, sheets };
}

describe('fact values keep their JSON types', () => {
  it('as the reference writes them, the same from the tarballs, a daily rollup, and a rollup of format 1 (read raw)', async () => {
    const raw = await build('raw');
    const ind = raw.sheets['Indirectly Managed nodes']!;
    // Canonical facts, facts (both sw1 rows share one index: merged), types, events.
    expect(ind.map((r) => [r[0], r[6], r[7]])).toEqual([
      ['dev2', '{"id": [12345678901234567890123]}', '{"device_type": [2.0], "infra_bucket": [true], "infra_type": [7]}'],
      ['dev3', '{}', '{"device_type": [2], "infra_bucket": [true], "infra_type": [7.0]}'],
      [
        'sw1',
        '{"serial": ["S1"]}',
        '{"cores": [4, 16], "device_type": ["ios"], "ha": [true], "infra_bucket": ["switches"], "infra_type": ["network"], "ratio": [1.0, 2.5], "s": ["null"], "ver": [4, "4"]}',
      ],
    ]);
    // 8 and 8.0, false and 0 are one value each (Python's set): Tally keeps the int.
    expect(raw.sheets['Inventory Scope']!.map((r) => r.slice(2, 6))).toEqual([
      ['["Org C"]', '["I1", "I2"]', '{"ansible_machine_id": ["M1"], "n": [3]}', '{"ansible_processor_vcpus": [8], "mem": [0.5], "virt": [0]}'],
    ]);
    // Numbers and booleans are number and boolean cells; 7 and 7.0 (2.0 and 2) are one group, before the texts.
    expect(raw.sheets['Infrastructure Summary']!.map((r) => r.slice(0, 5))).toEqual([
      [7, 7, 7, null, null],
      [null, true, null, null, null],
      [null, null, 2, 2, 2],
      ['network', 'network', 'network', null, null],
      [null, 'switches', null, null, null],
      [null, null, 'ios', 1, 1],
    ]);

    await rollup({ storage, since: new Date('2024-09-02T00:00:00Z'), until: new Date('2024-09-03T00:00:00Z'), period: 'day' });
    const rolled = await build('auto');
    expect(rolled.res.read?.days.rollup).toEqual(['2024-09-02']);
    expect(rolled.sheets).toEqual(raw.sheets);

    // A rollup built before facts kept their types cannot tell 4 from "4": its day is read from the tarballs.
    const name = join(ship, manifestName('day', '2024-09-02'));
    writeFileSync(name, JSON.stringify({ ...JSON.parse(readFileSync(name, 'utf8')), format: 1 }));
    const stale = await build('auto');
    expect(stale.res.read?.days.raw).toEqual(['2024-09-02']);
    expect(stale.sheets).toEqual(raw.sheets);
  }, 60_000);
});
