import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readWorkbook } from '@tally/reports';
import { metricsUtilityTarballs } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

// `tally report` writes `{report}.inputs.json` beside the workbook; `--verify` re-hashes those
// inputs; `--write-rollups` stores daily rollups that the next report reads instead of the tarballs.

let ship: string;
beforeAll(() => {
  ship = mkdtempSync(join(tmpdir(), 'tally-report-verify-'));
  cpSync(join(metricsUtilityTarballs().base, 'data'), join(ship, 'data'), { recursive: true });
});
afterAll(() => rmSync(ship, { recursive: true, force: true }));

const env = () => ({
  METRICS_UTILITY_SHIP_TARGET: 'directory',
  METRICS_UTILITY_SHIP_PATH: ship,
  METRICS_UTILITY_REPORT_TYPE: 'CCSPv2',
  TALLY_COUNT_UNREACHABLE_HOSTS: 'true',
  TALLY_LOG_LEVEL: 'error',
});

async function tally(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await runCli(argv, env(), ship);
  return { code: r.code, out: r.stdout, err: r.stderr };
}

/** Every sheet's cell values, read back. */
async function cells(path: string): Promise<Record<string, unknown[]>> {
  const wb = await readWorkbook(path);
  return Object.fromEntries(wb.worksheets.map((ws) => [ws.name, ws.getSheetValues()]));
}

const WORKBOOK = 'reports/2024/03/CCSPv2-2024-03.xlsx';
const AUDIT = 'reports/2024/03/CCSPv2-2024-03.inputs.json';

/** Rollups of whole months and several workbooks: minutes on a busy 2-core host. */
const SLOW = 300_000;

describe('tally report: audit trail, --verify, --write-rollups, --from raw', () => {
  it('writes {report}.inputs.json listing every tarball read, hashed, with the counting rule', async () => {
    const r = await tally(['report', '--month', '2024-03', '--force', '--from', 'raw']);
    expect(r.code).toBe(0);
    expect(r.out.match(/Report generated into/g)).toHaveLength(1);
    const audit = JSON.parse(readFileSync(join(ship, AUDIT), 'utf8'));
    const march = readdirSync(join(ship, 'data/2024/03'), { recursive: true }).filter((f) => String(f).endsWith('.tar.gz'));
    expect(audit).toMatchObject({ format: 1, reportType: 'CCSPv2', workbook: WORKBOOK, period: '2024-03', countUnreachableHosts: true, countingRuleVersion: 2 });
    expect(audit.inputs).toHaveLength(march.length);
    for (const i of audit.inputs) {
      expect(i).toMatchObject({ kind: 'tarball', name: expect.stringMatching(/^data\/2024\/03\/.+\.tar\.gz$/), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(i.size).toBeGreaterThan(0);
    }
    expect(JSON.stringify(audit)).not.toMatch(/password|secret/i);
  }, SLOW);

  it('--verify: exit 0 while the inputs are unchanged; exit 1 naming a tarball replaced since', async () => {
    expect((await tally(['report', '--verify', WORKBOOK])).code).toBe(0);
    expect((await tally(['report', '--verify', join(ship, WORKBOOK)])).code).toBe(0);
    const audit = JSON.parse(readFileSync(join(ship, AUDIT), 'utf8'));
    const [a, b] = audit.inputs.map((i: { name: string }) => i.name);
    const saved = join(ship, 'saved.tar.gz');
    copyFileSync(join(ship, a), saved);
    copyFileSync(join(ship, b), join(ship, a));
    try {
      const r = await tally(['report', '--verify', WORKBOOK]);
      expect(r.code).toBe(1);
      expect(r.out).toContain(`${a}: changed`);
      expect(r.err).toMatch(/no longer matches its inputs: 1 changed/);
    } finally {
      copyFileSync(saved, join(ship, a));
    }
    expect((await tally(['report', '--verify', 'reports/2024/03/none.xlsx'])).code).toBe(1);
  }, SLOW);

  it('--write-rollups stores daily rollups; the next report reads them and is the same workbook', async () => {
    const raw = readFileSync(join(ship, WORKBOOK));
    expect((await tally(['report', '--month', '2024-03', '--force', '--write-rollups'])).code).toBe(0);
    expect(existsSync(join(ship, 'rollups/_inputs/period=day'))).toBe(true);
    expect((await tally(['report', '--month', '2024-03', '--force'])).code).toBe(0);
    const audit = JSON.parse(readFileSync(join(ship, AUDIT), 'utf8'));
    expect(audit.inputs.length).toBeGreaterThan(0);
    expect(audit.inputs.every((i: { kind: string }) => i.kind === 'rollup')).toBe(true);
    expect(audit.inputs[0].builtFrom.length).toBeGreaterThan(0);
    const rawCopy = join(ship, 'raw-copy.xlsx');
    writeFileSync(rawCopy, raw);
    expect(await cells(join(ship, WORKBOOK))).toEqual(await cells(rawCopy));
    expect((await tally(['report', '--verify', WORKBOOK])).code).toBe(0);
  }, SLOW);
});
