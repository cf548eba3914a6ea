import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DuckDbOptions, rollup } from '@tally/dataframes';
import { auditName, buildCcspReport, type CcspDeduplicator, reportParams, VALID_SHEETS } from '@tally/reports';
import { DirectoryStorage } from '@tally/storage';
import { csvJson, EVENT_HEADER, failingStatements, type InjectedFailure, JHS_HEADER, MAIN_HOST_HEADER, recordingLogger, STATUS_HEADER, writeCollectionsVectorLake, writeTarball } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { workbookCells as cells } from './workbook-cells.js';

// A report whose usage tables ran out of DuckDB memory (and were built again from the tarballs)
// is the same workbook, cell for cell, as one built with room to spare.

/** The statements that build the usage tables from the job host summaries: the scans' aggregation, or the grouped rows'. */
const USAGE_AGGREGATION = /CREATE OR REPLACE TABLE (report_host_rows|report_hosts(?= AS SELECT organization_name))/;

/** The failures the next report's database injects (none: a plain database), and where they fired. */
const inject = vi.hoisted(() => ({ failures: undefined as readonly ('oom' | 'other')[] | undefined, failedAt: [] as string[] }));

/** The report's database, with the failures armed (if any). */
function arm<D extends import('@tally/dataframes').TallyDuckDb>(db: D): D {
  if (!inject.failures) return db;
  const failing = failingStatements(db, USAGE_AGGREGATION, inject.failures);
  inject.failedAt = failing.failedAt;
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

const cf = (serial: string, machine: string) => csvJson({ ansible_machine_id: machine, ansible_product_serial: serial });

/**
 * August 2024: the indirect-collections vector (job host summaries, events, audits) on 08-01, and
 * on 08-02 more job host summaries (one row of 08-01 delivered again), events, main_host (h1 and
 * h2 share a serial and machine id: ccsp-experimental merges them) and a collection.
 */
function writeLake(ship: string): void {
  writeCollectionsVectorLake(ship);
  writeTarball(ship, '2024-08-02', {
    'job_host_summary.csv':
      `${JHS_HEADER}\n1,2024-08-01 10:00:00+00,x,h1,,0,0,10,0,0,0,2024-08-01 09:59:00+00,1,t,Org A\n` +
      '4,2024-08-02 10:00:00+00,x,h1,,0,0,3,0,0,0,2024-08-02 09:59:00+00,4,t,Org A\n5,2024-08-02 10:00:00+00,x,h2,,0,0,2,0,0,0,2024-08-02 09:59:00+00,4,t,Org B\n',
    'main_jobevent.csv': `${EVENT_HEADER}\n100,h1,col.a.mod,,,,5,4\n101,h2,col.b.x,,,,7,4\n`,
    'main_host.csv':
      `${MAIN_HOST_HEADER}\nh1,inv1,Org A,2024-08-02 10:00:00+00,,${cf('P1', 'M1')},${csvJson({ os: 'RHEL' })}\n` +
      `h2,inv1,Org B,2024-08-02 10:00:00+00,,${cf('P1', 'M1')},${csvJson({ os: 'Fedora' })}\nh3,inv1,Org A,2024-08-01 10:00:00+00,,${cf('P3', 'M3')},{}\n`,
    'data_collection_status.csv': `${STATUS_HEADER}\n2024-08-03 00:10:00+00,2024-08-02 00:00:00+00,2024-08-03 00:00:00+00,job_host_summary.csv,ok,0.5\n`,
  });
}


interface Build {
  from: 'raw' | 'auto';
  deduplicator: CcspDeduplicator;
  failures?: readonly InjectedFailure[];
}

let ship: string;
beforeAll(async () => {
  ship = mkdtempSync(join(tmpdir(), 'tally-report-oom-'));
  writeLake(ship);
  // 08-01 from its rollup under `from: 'auto'`, 08-02 raw.
  await rollup({ storage: new DirectoryStorage({ base: ship }), since: new Date('2024-08-01T00:00:00Z'), until: new Date('2024-08-02T00:00:00Z'), period: 'day' });
}, 60_000);
afterAll(() => rmSync(ship, { recursive: true, force: true }));

async function build(b: Build) {
  const { reportPeriod: _, ...params } = reportParams({ reportPeriod: '', pricePerNode: 10, sheets: VALID_SHEETS.CCSPv2, now: new Date(Date.UTC(2024, 8, 2)), deduplicator: b.deduplicator });
  const { logger, messages } = recordingLogger();
  inject.failures = b.failures;
  inject.failedAt = [];
  try {
    // The small limit fits everything here but the injected list (see failingStatements).
    const duckdb = b.failures ? { memoryLimit: '128MB', threads: 2 } : undefined;
    const res = await buildCcspReport({ type: 'CCSPv2', storage: new DirectoryStorage({ base: ship }), period: { month: '2024-08' }, params, from: b.from, force: true, logger, ...(duckdb ? { duckdb } : {}) });
    expect(res.status).toBe('written');
    if (b.failures) {
      expect(inject.failedAt, 'every failure fired').toHaveLength(b.failures.length);
      expect(messages('info')).toContain('usage: out of memory aggregating the CSV scans; grouping the job host summaries instead');
    }
    const audit = JSON.parse(readFileSync(join(ship, auditName(res.name)), 'utf8')) as unknown;
    return { cells: await cells(join(ship, res.name)), read: res.read, failures: res.failures, gaps: res.gaps, audit };
  } finally {
    inject.failures = undefined;
  }
}

const SCENARIOS: Record<string, readonly InjectedFailure[]> = {
  'out of memory once': ['oom'],
  'out of memory twice': ['oom', 'oom'],
  'another failure, then out of memory': ['other', 'oom'],
};

describe('CCSPv2 workbook after running out of memory', () => {
  const builds: Omit<Build, 'failures'>[] = [
    { from: 'raw', deduplicator: 'ccsp' },
    { from: 'raw', deduplicator: 'ccsp-experimental' },
    { from: 'auto', deduplicator: 'ccsp' },
  ];
  for (const b of builds) {
    it(`${b.deduplicator}, ${b.from === 'raw' ? 'tarballs' : 'a rollup and a raw day'}: every cell equals that of a build with room to spare`, async () => {
      const expected = await build(b);
      expect(expected.read?.days).toEqual(b.from === 'raw' ? { rollup: [], raw: ['2024-08-01', '2024-08-02'] } : { rollup: ['2024-08-01'], raw: ['2024-08-02'] });
      for (const [scenario, failures] of Object.entries(SCENARIOS)) {
        expect(await build({ ...b, failures }), scenario).toEqual(expected);
      }
    });
  }
});
