import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { run } from '@tally/cli';
import { metricsUtilityTarballs } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workbookCells } from '../packages/reports/test/workbook-cells.js';

// The `tally` bin is the bundle tools/bundle-cli.mjs makes (`pnpm test` builds it first): it must do what the
// unbundled command does, with DuckDB's binding, exceljs, the extraction worker and the package versions still
// found from the packages they belong to.
const root = fileURLToPath(new URL('..', import.meta.url));
const bundle = join(root, 'packages/cli/dist/tally.js');
const exec = promisify(execFile);

let bundled: string;
let inProcess: string;

function env(ship: string): Record<string, string> {
  return {
    ...(process.env as Record<string, string>),
    METRICS_UTILITY_SHIP_TARGET: 'directory',
    METRICS_UTILITY_SHIP_PATH: ship,
    METRICS_UTILITY_REPORT_TYPE: 'CCSPv2',
    METRICS_UTILITY_PRICE_PER_NODE: '11.55',
    METRICS_UTILITY_REPORT_SKU: 'MCT3752MO',
    TALLY_LOG_LEVEL: 'warn',
  };
}

const tally = (ship: string, ...args: string[]) => exec('node', [bundle, ...args], { cwd: ship, env: env(ship) });

beforeAll(() => {
  const { base } = metricsUtilityTarballs();
  bundled = mkdtempSync(join(tmpdir(), 'tally-bundle-'));
  inProcess = mkdtempSync(join(tmpdir(), 'tally-bundle-ref-'));
  for (const ship of [bundled, inProcess]) cpSync(join(base, 'data'), join(ship, 'data'), { recursive: true });
});
afterAll(() => {
  rmSync(bundled, { recursive: true, force: true });
  rmSync(inProcess, { recursive: true, force: true });
});

describe('the bundled tally bin', () => {
  it('prints the version of @tally/cli', async () => {
    const { version } = JSON.parse(readFileSync(join(root, 'packages/cli/package.json'), 'utf8'));
    expect((await tally(bundled, '--version')).stdout.trim()).toBe(version);
  });

  it("configures DuckDB's allocator before its binding loads, unless the user did", async () => {
    // jemalloc reads DUCKDB_JE_MALLOC_CONF when DuckDB first allocates, and loading the binding already does:
    // the hook records the variable as it stood when the binding was loaded.
    const dir = mkdtempSync(join(tmpdir(), 'tally-allocator-'));
    try {
      const hook = join(dir, 'hook.cjs');
      writeFileSync(
        hook,
        [
          "const Module = require('node:module'); const load = Module._load; let seen = 'never loaded';",
          "Module._load = function (request, ...rest) { if (seen === 'never loaded' && /node-bindings/.test(request)) seen = process.env.DUCKDB_JE_MALLOC_CONF ?? 'unset'; return load.call(this, request, ...rest); };",
          "process.on('exit', () => process.stderr.write('allocator: ' + seen + '\\n'));",
        ].join('\n'),
      );
      const { DUCKDB_JE_MALLOC_CONF: _, ...without } = env(dir);
      const seen = async (extra: Record<string, string>) => {
        const args = ['--require', hook, bundle, 'rollup', '--since', '2024-03-01', '--until', '2024-03-02', '--period', 'day'];
        const { stderr } = await exec('node', args, { cwd: dir, env: { ...without, ...extra } });
        return /allocator: (.*)/.exec(stderr)?.[1];
      };
      expect(await seen({})).toBe('dirty_decay_ms:30000,muzzy_decay_ms:30000');
      expect(await seen({ DUCKDB_JE_MALLOC_CONF: 'dirty_decay_ms:0' })).toBe('dirty_decay_ms:0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rolls up and reports the same workbook and audit trail as the command run in-process', async () => {
    await tally(bundled, 'rollup', '--since', '2024-03-01', '--until', '2024-04-01', '--period', 'day');
    await tally(bundled, 'report', '--month', '2024-03');
    const quiet = { stdout: new PassThrough().resume(), stderr: new PassThrough().resume() };
    expect(await run(['report', '--month', '2024-03', '--from', 'raw'], { env: env(inProcess), cwd: inProcess, ...quiet })).toBe(0);

    const workbook = 'reports/2024/03/CCSPv2-2024-03';
    expect(await workbookCells(join(bundled, `${workbook}.xlsx`))).toEqual(await workbookCells(join(inProcess, `${workbook}.xlsx`)));
    const audit = JSON.parse(readFileSync(join(bundled, `${workbook}.inputs.json`), 'utf8'));
    expect(audit.tally).toBe(JSON.parse(readFileSync(join(root, 'packages/reports/package.json'), 'utf8')).version);
    expect(audit.inputs.every((i: { kind: string }) => i.kind === 'rollup')).toBe(true);
  }, 120_000);
});
