import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DuckDbOptions, rollup } from '@tally/dataframes';
import { buildCcspReport, reportParams } from '@tally/reports';
import { DirectoryStorage } from '@tally/storage';
import { EVENT_HEADER, failingStatements, type InjectedOutcome, JHS_HEADER, recordingLogger, writeTarball } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { workbookCells as cells } from './workbook-cells.js';

// The content statement (`report_content`) runs under a lower DuckDB memory limit than the
// report's. When it runs out there, the content is counted again under the report's own limit:
// from the tarballs, or a rollup and a raw day, the statement runs after the load (it reads the
// lists the events and rollup rows were read into, kept for it) and alone runs again, the tarballs
// not read again. The workbook must be the one of a run that never ran out; any other failure
// writes no workbook.

/** The content-usage sheets' statement. */
const CONTENT_STATEMENT = /^CREATE OR REPLACE TABLE report_content AS/;

/** Whether the next report's database injects a real DuckDB out-of-memory before the content statement; what it met. */
const inject = vi.hoisted(() => ({ armed: false, failure: 'oom' as 'oom' | 'other', outcomes: [] as InjectedOutcome[] }));

/** The report's database, with the failures armed (if any). */
function arm<D extends import('@tally/dataframes').TallyDuckDb>(db: D): D {
  if (!inject.armed) return db;
  const failing = failingStatements(db, CONTENT_STATEMENT, [inject.failure]);
  inject.outcomes = failing.outcomes;
  return failing;
}

vi.mock('@tally/dataframes', async (importOriginal) => {
  const real = await importOriginal<typeof import('@tally/dataframes')>();
  return {
    ...real,
    openDuckDb: async (opts?: DuckDbOptions) => arm(await real.openDuckDb(opts)),
    startDuckDb: (opts?: DuckDbOptions) => arm(real.startDuckDb(opts)),
  };
});

const SHEETS = ['ccsp_summary', 'managed_nodes', 'usage_by_collections', 'usage_by_roles', 'usage_by_modules'];
const jhs = (id: number, day: string, host: string, ansibleHost: string, job: number) => `${id},${day} 10:00:00+00,x,${host},${ansibleHost},0,0,3,0,0,0,${day} 09:59:00+00,${job},t,Org A`;
const event = (id: number, host: string, action: string, role: string, job: number) => `${id},${host},${action},${action},${role},,1.25,${job}`;

/** May 2024: two days of job host summaries (one host renamed through ansible_host) and their events. */
function writeLake(ship: string): void {
  for (const [d, day] of ['2024-05-01', '2024-05-02'].entries()) {
    const job = 10 + d;
    writeTarball(ship, day, {
      'job_host_summary.csv': `${JHS_HEADER}\n${[jhs(1 + d * 10, day, 'h1', '', job), jhs(2 + d * 10, day, 'h2', 'h2.real', job)].join('\n')}\n`,
      'main_jobevent.csv': `${EVENT_HEADER}\n${[
        event(1 + d * 10, 'h1', 'ansible.builtin.copy', '', job),
        event(2 + d * 10, 'h2', 'ansible.builtin.copy', 'geerlingguy.nginx', job),
        event(3 + d * 10, 'h2', 'shell', 'ns.coll.role', job),
        event(4 + d * 10, 'h3', 'community.general.ini_file', '', job),
      ].join('\n')}\n`,
    });
  }
}

let ship: string;
beforeAll(async () => {
  ship = mkdtempSync(join(tmpdir(), 'tally-content-oom-'));
  writeLake(ship);
  // 05-01 from its rollup under `from: 'auto'`, 05-02 raw.
  await rollup({ storage: new DirectoryStorage({ base: ship }), since: new Date('2024-05-01T00:00:00Z'), until: new Date('2024-05-02T00:00:00Z'), period: 'day' });
}, 60_000);
afterAll(() => rmSync(ship, { recursive: true, force: true }));

async function build(from: 'raw' | 'auto', outOfMemory: boolean) {
  const { reportPeriod: _, ...params } = reportParams({ reportPeriod: '', pricePerNode: 1, sku: 'SKU', companyName: 'Acme', sheets: SHEETS, now: new Date(Date.UTC(2024, 5, 2)) });
  const { logger, messages } = recordingLogger();
  Object.assign(inject, { armed: outOfMemory, failure: 'oom', outcomes: [] });
  // The report's own limit, above the content statement's.
  const res = await buildCcspReport({ type: 'CCSPv2', storage: new DirectoryStorage({ base: ship }), period: { month: '2024-05' }, params, from, force: true, logger, duckdb: { memoryLimit: '768MB', threads: 2 } });
  expect(res.status).toBe('written');
  if (outOfMemory) {
    expect(inject.outcomes.map((o) => o.memoryLimit), 'the content statement ran under its lower limit').toEqual(['448.0 MiB']);
    expect(inject.outcomes).toHaveLength(1);
    expect(inject.outcomes[0]?.error).toMatch(/Out of Memory Error/);
    const reloaded = messages('info').includes('usage: out of memory aggregating the CSV scans; grouping the job host summaries instead');
    expect(reloaded, 'only the statement runs again: it reads no CSV').toBe(false);
  }
  return { cells: await cells(join(ship, res.name)), read: res.read };
}

describe('content sheets after the content statement runs out of memory', () => {
  for (const from of ['raw', 'auto'] as const) {
    it(`${from === 'raw' ? 'tarballs' : 'a rollup and a raw day'}: every cell equals that of a build that never ran out`, async () => {
      const expected = await build(from, false);
      expect(expected.read?.days).toEqual(from === 'raw' ? { rollup: [], raw: ['2024-05-01', '2024-05-02'] } : { rollup: ['2024-05-01'], raw: ['2024-05-02'] });
      const modules = expected.cells['Usage by modules'];
      expect(modules?.length, 'a header and three modules').toBe(4);
      expect(await build(from, true)).toEqual(expected);
    });
  }
  // From the tarballs the statement runs while the workbook is written: its failure is the report's.
  it('tarballs: a content statement failing otherwise fails the report and writes no workbook', async () => {
    const { reportPeriod: _, ...params } = reportParams({ reportPeriod: '', pricePerNode: 1, sku: 'SKU', companyName: 'Acme', sheets: SHEETS, now: new Date(Date.UTC(2024, 5, 2)) });
    const storage = new DirectoryStorage({ base: ship });
    const workbook = 'reports/2024/05/CCSPv2-2024-05.xlsx';
    rmSync(join(ship, workbook), { force: true });
    Object.assign(inject, { armed: true, failure: 'other', outcomes: [] });
    const built = buildCcspReport({ type: 'CCSPv2', storage, period: { month: '2024-05' }, params, from: 'raw', force: true, duckdb: { memoryLimit: '768MB', threads: 2 } });
    await expect(built).rejects.toThrow(/could not write to the temporary directory \(injected\)/);
    expect(inject.outcomes).toHaveLength(1);
    expect(await storage.exists(workbook)).toBe(false);
  });
});
