import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { loadConfig } from '@tally/core';
import { DEFAULT_SHEETS, readWorkbook, VALID_SHEETS } from '@tally/reports';
import { writeIndirectLake } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coverageCommand } from '../src/coverage-command.js';
import type { CliIO } from '../src/io.js';
import { run } from '../src/main.js';

// `tally report` over the crafted July 2024 lake (@tally/testkit indirect-lake.ts): sheet
// selection, gap warnings, and `tally status --month` agreeing with the Data collection status sheet.

let ship: string;
beforeAll(() => {
  ship = mkdtempSync(join(tmpdir(), 'tally-newer-cli-'));
  writeIndirectLake(ship);
});
afterAll(() => rmSync(ship, { recursive: true, force: true }));

function io(extra: Record<string, string> = {}): CliIO & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => {
    out += String(d);
  });
  stderr.on('data', (d) => {
    err += String(d);
  });
  const env = { METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: ship, METRICS_UTILITY_REPORT_TYPE: 'CCSPv2', ...extra };
  return { stdout, stderr, env, cwd: ship, out: () => out, err: () => err };
}

const EVERY = VALID_SHEETS.CCSPv2.join(',');

describe('METRICS_UTILITY_OPTIONAL_CCSP_REPORT_SHEETS', () => {
  it('keeps the default sheet list', () => {
    expect(DEFAULT_SHEETS).toEqual(['ccsp_summary', 'managed_nodes', 'usage_by_organizations', 'usage_by_collections', 'usage_by_roles', 'usage_by_modules']);
  });

  it('refuses names the report type does not know with the reference message, exit code 2, nothing written', async () => {
    const cli = io({ METRICS_UTILITY_REPORT_TYPE: 'CCSP', METRICS_UTILITY_OPTIONAL_CCSP_REPORT_SHEETS: 'ccsp_summary,jobs,data_collection_status,bogus' });
    expect(await run(['report', '--month', '2024-07'], cli)).toBe(2);
    expect(cli.err()).toBe(
      'tally: Invalid METRICS_UTILITY_OPTIONAL_CCSP_REPORT_SHEETS for CCSP: jobs, data_collection_status, bogus. Valid values: ' +
        'ccsp_summary, managed_nodes, indirectly_managed_nodes, inventory_scope, infrastructure_summary, usage_by_collections, ' +
        'usage_by_roles, usage_by_modules, usage_by_organizations, managed_nodes_by_organizations\n',
    );
    expect(existsSync(join(ship, 'reports/2024/07/CCSP-2024-07.xlsx'))).toBe(false);
    const v2 = io({ METRICS_UTILITY_OPTIONAL_CCSP_REPORT_SHEETS: 'ccsp_summary,Jobs' });
    expect(await run(['report', '--month', '2024-07'], v2)).toBe(2);
    expect(v2.err()).toContain('for CCSPv2: Jobs. Valid values: ccsp_summary, jobs, managed_nodes, indirectly_managed_nodes, inventory_scope, infrastructure_summary,');
  });

  it('CCSP accepts infrastructure_summary (the newest validation) and skips it with a warning', async () => {
    const cli = io({ METRICS_UTILITY_REPORT_TYPE: 'CCSP', METRICS_UTILITY_OPTIONAL_CCSP_REPORT_SHEETS: 'ccsp_summary,infrastructure_summary' });
    expect(await run(['report', '--month', '2024-07', '--force'], cli)).toBe(0);
    expect(cli.err()).toContain('infrastructure_summary is a CCSPv2 sheet: the CCSP report skips it');
    const wb = await readWorkbook(join(ship, 'reports/2024/07/CCSP-2024-07.xlsx'));
    expect(wb.worksheets.map((w) => w.name)).toEqual(['Usage Reporting']);
  });
});

describe('collection gaps', () => {
  it('tally report warns once per collector gap over an hour, and the sheet lists the same gaps', async () => {
    const cli = io({ METRICS_UTILITY_OPTIONAL_CCSP_REPORT_SHEETS: EVERY, TALLY_LOG_LEVEL: 'warn' });
    expect(await run(['report', '--month', '2024-07', '--force'], cli)).toBe(0);
    const warnings = cli
      .err()
      .split('\n')
      .filter((l) => l.includes('data collection gap'));
    expect(warnings).toHaveLength(4);
    expect(warnings[0]).toContain('job_host_summary.csv has no collected data from 2024-07-04T00:00:00Z until 2024-07-10T00:00:00Z (6 days, 518400 s)');
    expect(warnings[1]).toContain('job_host_summary.csv has no collected data from 2024-07-11T00:00:00Z until 2024-08-01T00:00:00Z (21 days, 1814400 s)');
    expect(warnings[2]).toContain('main_indirectmanagednodeaudit.csv has no collected data from 2024-07-01T00:00:00Z until 2024-07-01T06:00:00Z (6 h, 21600 s)');
    expect(warnings[3]).toContain('main_indirectmanagednodeaudit.csv has no collected data from 2024-07-04T00:00:00Z until 2024-08-01T00:00:00Z (28 days, 2419200 s)');

    const ws = (await readWorkbook(join(ship, 'reports/2024/07/CCSPv2-2024-07.xlsx'))).getWorksheet('Data collection status')!;
    const sheetGaps: unknown[] = [];
    for (let r = 2; ws.getCell(r, 1).value !== null; r++) {
      sheetGaps.push({ fileName: ws.getCell(r, 1).value, from: ws.getCell(r, 2).value, until: ws.getCell(r, 3).value, seconds: ws.getCell(r, 4).value });
    }
    const status = await coverageCommand(loadConfig({ env: cli.env }), { month: '2024-07' }, io());
    // The sheet read back holds Dates (ms): the gaps' microseconds are left out.
    expect(status.gaps.map(({ fromUs: _f, untilUs: _u, ...g }) => g)).toEqual(sheetGaps);
    expect(status.gaps).toHaveLength(4);
  });

  it('tally status --month prints the gaps of the period from the stored tarballs, without a database', async () => {
    const cli = io();
    expect(await run(['status', '--month', '2024-07'], cli)).toBe(0);
    expect(cli.out()).toBe(
      'Data coverage 2024-07-01T00:00:00.000Z – 2024-08-01T00:00:00.000Z: 8 collection(s) in data_collection_status.csv; 4 gap(s):\n' +
        '  job_host_summary.csv has no collected data from 2024-07-04T00:00:00Z until 2024-07-10T00:00:00Z (6 days, 518400 s)\n' +
        '  job_host_summary.csv has no collected data from 2024-07-11T00:00:00Z until 2024-08-01T00:00:00Z (21 days, 1814400 s)\n' +
        '  main_indirectmanagednodeaudit.csv has no collected data from 2024-07-01T00:00:00Z until 2024-07-01T06:00:00Z (6 h, 21600 s)\n' +
        '  main_indirectmanagednodeaudit.csv has no collected data from 2024-07-04T00:00:00Z until 2024-08-01T00:00:00Z (28 days, 2419200 s)\n',
    );
    // A range ending on 07-03: the collections cover it whole except the audits' first six hours.
    const range = io();
    expect(await run(['status', '--since', '2024-07-01', '--until', '2024-07-03', '--json'], range)).toBe(0);
    expect(JSON.parse(range.out())).toEqual({
      start: '2024-07-01T00:00:00.000Z',
      end: '2024-07-04T00:00:00.000Z',
      collections: 6,
      gaps: [{ fileName: 'main_indirectmanagednodeaudit.csv', from: '2024-07-01T00:00:00.000Z', until: '2024-07-01T06:00:00.000Z', seconds: 21_600 }],
    });
    const empty = io();
    expect(await run(['status', '--month', '2024-06'], empty)).toBe(0);
    expect(empty.out()).toContain('0 collection(s) in data_collection_status.csv; nothing was collected in this period.');
  });

  it('tally status --month refuses a state option it would not use (exit 2)', async () => {
    const cli = io();
    expect(await run(['status', '--month', '2024-07', '--state-file', 'state.json'], cli)).toBe(2);
    expect(cli.err()).toContain('--state-db/--state-file do not apply');
    expect(cli.out()).toBe('');
  });
});

describe('collection gaps from daily rollups', () => {
  it('tally report warns about the same gaps when every day comes from its rollup (tally rollup --period day)', async () => {
    const own = mkdtempSync(join(tmpdir(), 'tally-newer-cli-rollups-'));
    try {
      writeIndirectLake(own);
      const at = (extra: Record<string, string> = {}) => ({ ...io({ METRICS_UTILITY_SHIP_PATH: own, ...extra }), cwd: own });
      const warningsOf = (cli: ReturnType<typeof io>) =>
        cli
          .err()
          .split('\n')
          .filter((l) => l.includes('data collection gap'))
          .map((l) => l.replace(/^.*data collection gap/, ''));
      const raw = at({ METRICS_UTILITY_OPTIONAL_CCSP_REPORT_SHEETS: EVERY, TALLY_LOG_LEVEL: 'warn' });
      expect(await run(['report', '--month', '2024-07', '--from', 'raw'], raw)).toBe(0);
      expect(warningsOf(raw)).toHaveLength(4);

      expect(await run(['rollup', '--since', '2024-07-01', '--until', '2024-08-01', '--period', 'day'], at())).toBe(0);
      const rolled = at({ METRICS_UTILITY_OPTIONAL_CCSP_REPORT_SHEETS: EVERY, TALLY_LOG_LEVEL: 'warn' });
      expect(await run(['report', '--month', '2024-07', '--force'], rolled)).toBe(0);
      expect(warningsOf(rolled)).toEqual(warningsOf(raw));
      // Every input of the workbook was a rollup part: no tarball was read.
      const audit = JSON.parse(readFileSync(join(own, 'reports/2024/07/CCSPv2-2024-07.inputs.json'), 'utf8'));
      expect(audit.inputs.length).toBeGreaterThan(0);
      expect(audit.inputs.every((i: { kind: string }) => i.kind === 'rollup')).toBe(true);
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });
});

describe('METRICS_UTILITY_DEDUPLICATOR=ccsp-experimental', () => {
  it('tally report applies it: the Managed nodes sheet gets the facts and host-name columns, recorded in the audit', async () => {
    const cli = io({ METRICS_UTILITY_DEDUPLICATOR: 'ccsp-experimental', METRICS_UTILITY_OPTIONAL_CCSP_REPORT_SHEETS: 'ccsp_summary,managed_nodes' });
    expect(await run(['report', '--month', '2024-07', '--force'], cli)).toBe(0);
    const wb = await readWorkbook(join(ship, 'reports/2024/07/CCSPv2-2024-07.xlsx'));
    const mn = wb.getWorksheet('Managed nodes')!;
    expect((mn.getRow(1).values as unknown[]).slice(7)).toEqual(['Canonical\nFacts', 'Facts', 'Host names\nbefore\ndeduplication', 'Host names\nbefore\ndeduplication\ncount']);
    expect(mn.getCell('J2').value).toBe(1);
    const audit = JSON.parse(readFileSync(join(ship, 'reports/2024/07/CCSPv2-2024-07.inputs.json'), 'utf8'));
    expect(audit.parameters.deduplicator).toBe('ccsp-experimental');
  });
});
