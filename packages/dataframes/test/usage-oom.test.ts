import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DataCollectionStatus,
  dedupCcspExperimental,
  dedupHostsInto,
  groupIndirectInto,
  MainHost,
  openDuckDb,
  periodUsage,
  rollup,
} from '@tally/dataframes';
import { DirectoryStorage } from '@tally/storage';
import { AUDIT_HEADER, csvJson, EVENT_HEADER, failingStatements, type InjectedFailure, JHS_HEADER, MAIN_HOST_HEADER, metricsUtilityTarballs, recordingLogger, STATUS_HEADER, writeTarball } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Running out of DuckDB memory while the usage tables are built makes `loadUsage` read the
// tarballs again: whatever the failed attempt had grouped or committed must count once, so every
// table a report reads equals the one of a run that never ran out.

/** The statements that build the usage tables from the job host summaries: the scans' aggregation, or the grouped rows'. */
const USAGE_AGGREGATION = /CREATE OR REPLACE TABLE (report_host_rows|report_hosts(?= AS SELECT organization_name))/;

const UUID = '36e809d0-b1ae-4b99-9011-2fa3a3eb196e';
const MARCH = { since: new Date('2024-03-01T00:00:00Z'), until: new Date('2024-04-01T00:00:00Z') };
const cf = (serial: string, machine: string) => csvJson({ ansible_machine_id: machine, ansible_product_serial: serial });
const hostRow = (host: string, ahv: string, facts: string) => `${host},Demo Inventory,Default,2024-03-06 12:00:00+00,${ahv},${facts},${csvJson({ os: host })}`;
const event = (id: number, host: string, job: number, duration: number) => `${id},${host},ansible.builtin.ping,,,,${duration},${job}`;
const audit = (host: string, runs: number, job: number, org: string) =>
  `2024-03-06 12:30:00+00,${host},${csvJson({ serial: `S-${host}` })},${csvJson({ device_type: 'vm' })},${csvJson(['vmware.vmware_rest.vcenter_vm_info'])},${runs},2024-03-06 12:01:00+00,${job},test template,${org}`;

/**
 * The fixture month (March 2024, job host summaries only) plus, for the same install: events,
 * main_host (test host 1 and 2 share a serial and machine id: ccsp-experimental merges them),
 * data_collection_status, audits (INDIRECT rows, one sharing a DIRECT row's index) and a job
 * host summary delivered twice, on days read from rollups and on days read raw.
 */
function writeLake(ship: string): void {
  cpSync(join(metricsUtilityTarballs().base, 'data', '2024', '03'), join(ship, 'data', '2024', '03'), { recursive: true });
  const extras = (day: string, index: number, members: Record<string, string>) => writeTarball(ship, day, members, { uuid: UUID, index });
  extras('2024-03-06', 1, {
    'main_jobevent.csv': `${EVENT_HEADER}\n${[event(1, 'localhost', 66, 1.5), event(2, 'test host 2', 67, 2), event(3, 'test host 1', 67, 3), event(4, 'test host 1', 69, 1)].join('\n')}\n`,
    'main_host.csv': `${MAIN_HOST_HEADER}\n${[hostRow('test host 1', '', cf('P1', 'M1')), hostRow('test host 2', '', cf('P1', 'M1')), hostRow('localhost', '', cf('P9', 'M9'))].join('\n')}\n`,
    'data_collection_status.csv': `${STATUS_HEADER}\n2024-03-07 00:10:00+00,2024-03-06 00:00:00+00,2024-03-07 00:00:00+00,main_jobevent.csv,ok,0.5\n`,
  });
  extras('2024-03-06', 2, { 'main_indirectmanagednodeaudit.csv': `${AUDIT_HEADER}\n${audit('test host 1', 4, 67, 'test organization')}\n${audit('sw1', 2, 67, 'test organization')}\n` });
  // Day 18 is read raw: a row of job 86 delivered again, events, main_host with an ansible_host.
  extras('2024-03-18', 1, {
    'job_host_summary.csv': `${JHS_HEADER}\n1056,2024-03-18 16:01:07+00,x,test host 1,,0,0,2,0,0,0,2024-03-18 16:00:00+00,86,test template,test organization\n`,
    'main_jobevent.csv': `${EVENT_HEADER}\n${[event(5, 'test host 1', 86, 4), event(6, 'test_ansible_host_var_1', 85, 2), event(7, 'test_ansible_host_var_2', 86, 1)].join('\n')}\n`,
    'main_host.csv': `${MAIN_HOST_HEADER}\n${[hostRow('test host 2', '', cf('P1', 'M1')), hostRow('test_ansible_host_var_1', 'test_ansible_host_real_1', cf('P7', 'M7'))].join('\n')}\n`,
    'data_collection_status.csv': `${STATUS_HEADER}\n2024-03-19 00:10:00+00,2024-03-18 00:00:00+00,2024-03-19 00:00:00+00,main_jobevent.csv,ok,0.5\n`,
  });
  extras('2024-03-19', 5, { 'main_indirectmanagednodeaudit.csv': `${AUDIT_HEADER}\n${audit('sw2', 3, 86, 'test organization')}\n` });
}

interface Run {
  from: 'raw' | 'auto';
  /** ccsp-experimental: main_host merges hosts before the usage tables are built (as the report's `onLoaded`). */
  dedup: boolean;
  /** Group the INDIRECT rows apart first (as a report does; with rollups that groups the job host summaries). */
  indirect: boolean;
  failures?: readonly InjectedFailure[];
}

/** Every table a report reads after `periodUsage`, and what it read; with failures, the statements that failed. */
async function usageOf(ship: string, run: Run): Promise<{ tables: Record<string, unknown>; failedAt: string[] }> {
  // The small limit fits everything here but the list above.
  await using real = await openDuckDb(run.failures ? { memoryLimit: '128MB', threads: 2 } : {});
  const db = run.failures ? failingStatements(real, USAGE_AGGREGATION, run.failures) : real;
  const mainHost = new MainHost(db);
  const status = new DataCollectionStatus(db);
  const { logger, messages } = recordingLogger();
  const res = await periodUsage({
    storage: new DirectoryStorage({ base: ship }),
    db,
    ...MARCH,
    from: run.from,
    extraDataframes: [mainHost, status],
    logger,
    onLoaded: async (jhs, events) => {
      const dedup = run.dedup ? await dedupCcspExperimental({ mainHost, events }, 't_facts') : { mapping: new Map<string, string>(), applied: false };
      if (run.dedup) await dedupHostsInto(jhs, 't_dedup_hosts', { mapping: dedup.mapping, ...(dedup.applied ? { facts: 't_facts' } : {}) });
      if (run.indirect) await groupIndirectInto(jhs, 't_indirect', { hostNameMapping: dedup.mapping });
      await mainHost.group();
      await status.group();
      return { hostNameMapping: dedup.mapping };
    },
  });
  await res.removed;
  const failedAt = 'failedAt' in db ? (db.failedAt as string[]) : [];
  if (run.failures) {
    expect(failedAt, 'every failure fired').toHaveLength(run.failures.length);
    expect(messages('info')).toContain('usage: out of memory aggregating the CSV scans; grouping the job host summaries instead');
  }
  const u = res.usage;
  const named = {
    hosts: u.hosts,
    jobs: u.jobs,
    hostMap: u.hostMap,
    content: u.content,
    mainHost: mainHost.table,
    status: status.table,
    ...(run.indirect ? { indirect: 't_indirect' } : {}),
    ...(run.dedup ? { dedupHosts: 't_dedup_hosts', facts: 't_facts' } : {}),
  };
  const tables: Record<string, unknown> = { empty: u.empty, inputs: res.inputs, skipped: res.skipped, days: res.days };
  for (const [key, table] of Object.entries(named)) tables[key] = table ? await real.all(`SELECT * FROM ${table} ORDER BY ALL`) : null;
  return { tables, failedAt };
}

let ship: string;
beforeAll(async () => {
  ship = mkdtempSync(join(tmpdir(), 'tally-usage-oom-'));
  writeLake(ship);
  // Days 1–11 (with the audits) from their rollups, the rest raw, under `from: 'auto'`.
  await rollup({ storage: new DirectoryStorage({ base: ship }), since: MARCH.since, until: new Date('2024-03-12T00:00:00Z'), period: 'day' });
}, 60_000);
afterAll(() => rmSync(ship, { recursive: true, force: true }));

const SCENARIOS: Record<string, readonly InjectedFailure[]> = {
  // The first aggregation runs out; the grouped fallback's batch succeeds.
  'out of memory once': ['oom'],
  // The fallback's batch runs out too: tarball by tarball, then grouped.
  'out of memory twice': ['oom', 'oom'],
  // The batch fails for no tarball's fault: tarball by tarball, whose aggregation then runs out.
  'another failure, then out of memory': ['other', 'oom'],
};

const VARIANTS: (Omit<Run, 'failures'> & { first: 'report_host_rows' | 'report_hosts' })[] = [
  { from: 'raw', dedup: false, indirect: true, first: 'report_host_rows' },
  { from: 'raw', dedup: true, indirect: true, first: 'report_host_rows' },
  // With rollups, grouping the INDIRECT rows apart groups the job host summaries first (ccsp-experimental reads no rollup).
  { from: 'auto', dedup: false, indirect: true, first: 'report_hosts' },
  // Without it, the rollups stay staged for the aggregation of the scans, then for the fallback's grouping.
  { from: 'auto', dedup: false, indirect: false, first: 'report_host_rows' },
];

describe('usage tables after running out of memory', () => {
  for (const { first, ...run } of VARIANTS) {
    const name = `${run.from === 'raw' ? 'every day raw' : 'rollups and raw days'}${run.dedup ? ', ccsp-experimental' : ''}${run.indirect ? '' : ', INDIRECT rows not grouped apart'}`;
    it(`${name}: every table equals that of a run that never ran out`, async () => {
      const expected = (await usageOf(ship, run)).tables;
      for (const key of ['hosts', 'content', 'mainHost', 'status', ...(run.indirect ? ['indirect'] : [])]) {
        expect((expected[key] as unknown[]).length, key).toBeGreaterThan(0);
      }
      expect((expected.days as { rollup: string[] }).rollup.length > 0).toBe(run.from === 'auto');
      for (const [scenario, failures] of Object.entries(SCENARIOS)) {
        const got = await usageOf(ship, { ...run, failures });
        expect(got.failedAt[0], scenario).toBe(first);
        expect(got.tables, scenario).toEqual(expected);
      }
    });
  }
});
