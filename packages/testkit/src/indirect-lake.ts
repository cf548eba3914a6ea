/**
 * Crafted tarballs for the newest reference's sheets (July 2024 of one install, `u-1`), each day
 * folder as gather writes them, with hand-computed expectations in the tests that read them:
 *
 * - 07-01 `…-0`: job_host_summary (web1 Org A deploy job 7, 3 runs; db1 Org B backup job 10, 5 runs)
 * - 07-01 `…-1`: audits alone, INDIRECT: sw1 and sw2 (network/switches/ios) and web1 (device vm, no
 *   infra_type) of Org A discover job 11
 * - 07-02: job_host_summary (web1 job 12, 1 run) AND an audit (lost1): the audit does not count
 * - 07-03: an empty job_host_summary.csv and an audit: sw1 of Org B job 13 (network/switches/nxos)
 * - 07-10: a failed job_host_summary collection (07-04 → 07-10) then an ok one (07-10 → 07-11);
 *   main_host.csv (web1 twice, an ansible_host alias) and a main_host_daily.csv that does not count
 * - 07-11: an empty main_host.csv and main_host_daily.csv (db1)
 *
 * Collections: job_host_summary 07-01 → 07-04 and 07-10 → 07-11; audits 07-01 06:00 → 07-04.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CSV_SCHEMAS } from '@tally/extractors';
import { schemaCsv } from './schema-csv.js';
import { parseCsv } from './csv.js';

export const JHS_HEADER = 'id,created,modified,host_name,ansible_host_variable,dark,failures,ok,skipped,ignored,rescued,job_created,job_remote_id,job_template_name,organization_name';
export const AUDIT_HEADER = 'created,host_name,canonical_facts,facts,events,task_runs,job_created,job_remote_id,job_template_name,organization_name';
export const STATUS_HEADER = 'collection_start_timestamp,since,until,file_name,status,elapsed';
export const MAIN_HOST_HEADER = 'host_name,inventory_name,organization_name,last_automation,ansible_host_variable,canonical_facts,facts';
export const EVENT_HEADER = 'id,host_name,task_action,resolved_action,role,resolved_role,duration,job_remote_id';

/** A JSON value as a quoted CSV field. */
export const csvJson = (v: unknown) => `"${JSON.stringify(v).replaceAll('"', '""')}"`;

/**
 * Write one daily tarball `data/YYYY/MM/DD/{uuid}-{day}-…-{index}.tar.gz` with these members into
 * `ship`. The texts name a few columns; a member with a known schema is written in its full schema
 * (the other columns empty), as a collector writes it and as the strict reader requires; members
 * named in `verbatim` are written as given (to craft a malformed one).
 */
export function writeTarball(
  ship: string,
  day: string,
  members: Record<string, string>,
  opts: { index?: number; uuid?: string; verbatim?: readonly string[] } = {},
): void {
  const uuid = opts.uuid ?? 'u-1';
  const src = mkdtempSync(join(tmpdir(), 'tally-lake-'));
  try {
    writeFileSync(join(src, 'config.json'), JSON.stringify({ install_uuid: uuid }));
    for (const [name, text] of Object.entries(members)) {
      const widen = CSV_SCHEMAS[name] && !opts.verbatim?.includes(name);
      writeFileSync(join(src, name), widen ? schemaCsv(name, parseCsv(text)) : text);
    }
    const [y, m, d] = day.split('-');
    const dir = join(ship, 'data', y!, m!, d!);
    mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['czf', join(dir, `${uuid}-${day}-000000+0000-${day}-235959+0000-${opts.index ?? 0}.tar.gz`), '-C', src, '.']);
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
}

const jhs = (rows: string[]) => `${JHS_HEADER}\n${rows.map((r) => `${r}\n`).join('')}`;
const audit = (rows: unknown[][]) =>
  `${AUDIT_HEADER}\n${rows.map(([created, host, cf, f, events, runs, jc, job, tpl, org]) => `${created},${host},${csvJson(cf)},${csvJson(f)},${csvJson(events)},${runs},${jc},${job},${tpl},${org}\n`).join('')}`;
const status = (rows: string[][]) => `${STATUS_HEADER}\n${rows.map((r) => `${r.join(',')}\n`).join('')}`;
const hosts = (rows: unknown[][]) =>
  `${MAIN_HOST_HEADER}\n${rows.map(([h, inv, org, last, ahv, cf, f]) => `${h},${inv},${org},${last},${ahv},${csvJson(cf)},${csvJson(f)}\n`).join('')}`;

const network = (device: string) => ({ infra_type: 'network', infra_bucket: 'switches', device_type: device });

/** Write the July 2024 lake described above into `ship`. */
export function writeIndirectLake(ship: string): void {
  writeTarball(ship, '2024-07-01', {
    'job_host_summary.csv': jhs([
      '1,2024-07-01 10:00:00+00,x,web1,,0,0,3,0,0,0,2024-07-01 09:59:00+00,7,deploy,Org A',
      '2,2024-07-01 11:00:00+00,x,db1,,0,0,5,0,0,0,2024-07-01 10:59:00+00,10,backup,Org B',
    ]),
    'data_collection_status.csv': status([['2024-07-02 00:10:00+00', '2024-07-01 00:00:00+00', '2024-07-02 00:00:00+00', 'job_host_summary.csv', 'ok', '0.5']]),
  });
  writeTarball(
    ship,
    '2024-07-01',
    {
      'main_indirectmanagednodeaudit.csv': audit([
        ['2024-07-01 12:00:00+00', 'sw1', { serial: 'S1', ansible_machine_id: 'NA' }, network('ios'), ['cisco.ios.ios_command', 'cisco.ios.ios_facts'], 4, '2024-07-01 11:59:00+00', 11, 'discover', 'Org A'],
        ['2024-07-01 12:01:00+00', 'sw2', { serial: 'S2' }, { ...network('ios'), os: '' }, ['cisco.ios.ios_command'], 2, '2024-07-01 11:59:00+00', 11, 'discover', 'Org A'],
        ['2024-07-01 12:02:00+00', 'web1', {}, { device_type: 'vm' }, ['vmware.vmware_rest.vcenter_vm_info', 'debug'], 1, '2024-07-01 11:59:00+00', 11, 'discover', 'Org A'],
      ]),
      'data_collection_status.csv': status([['2024-07-02 00:10:05+00', '2024-07-01 06:00:00+00', '2024-07-02 00:00:00+00', 'main_indirectmanagednodeaudit.csv', 'ok', '1.5']]),
    },
    { index: 1 },
  );
  writeTarball(ship, '2024-07-02', {
    'job_host_summary.csv': jhs(['3,2024-07-02 10:00:00+00,x,web1,,0,0,1,0,0,0,2024-07-02 09:59:00+00,12,deploy,Org A']),
    'main_indirectmanagednodeaudit.csv': audit([['2024-07-02 12:00:00+00', 'lost1', {}, network('ios'), ['cisco.ios.ios_command'], 9, '2024-07-02 11:59:00+00', 14, 'discover', 'Org A']]),
    'data_collection_status.csv': status([
      ['2024-07-03 00:10:00+00', '2024-07-02 00:00:00+00', '2024-07-03 00:00:00+00', 'job_host_summary.csv', 'ok', '0.5'],
      ['2024-07-03 00:10:05+00', '2024-07-02 00:00:00+00', '2024-07-03 00:00:00+00', 'main_indirectmanagednodeaudit.csv', 'ok', '0.5'],
    ]),
  });
  writeTarball(ship, '2024-07-03', {
    'job_host_summary.csv': `${JHS_HEADER}\n`,
    'main_indirectmanagednodeaudit.csv': audit([['2024-07-03 09:00:00+00', 'sw1', { serial: 'S1b' }, network('nxos'), ['cisco.ios.ios_facts', 'cisco.nxos.nxos_facts'], 3, '2024-07-03 08:59:00+00', 13, 'discover', 'Org B']]),
    'data_collection_status.csv': status([
      ['2024-07-04 00:10:00+00', '2024-07-03 00:00:00+00', '2024-07-04 00:00:00+00', 'job_host_summary.csv', 'ok', '0.5'],
      ['2024-07-04 00:10:05+00', '2024-07-03 00:00:00+00', '2024-07-04 00:00:00+00', 'main_indirectmanagednodeaudit.csv', 'ok', '0.5'],
    ]),
  });
  writeTarball(ship, '2024-07-10', {
    'main_host.csv': hosts([
      ['web1', 'inv1', 'Org A', '2024-07-01 10:00:00+00', '', { ansible_product_serial: 'P1', ansible_machine_id: 'M1' }, { ansible_distribution: 'RHEL', ansible_processor: 'NA' }],
      ['web1', 'inv2', 'Org B', '2024-07-02 10:00:00+00', '', { ansible_product_serial: 'P2' }, { ansible_distribution: 'Fedora' }],
      ['h-alias', 'inv1', '', '', '10.0.0.9', {}, {}],
    ]),
    'main_host_daily.csv': hosts([['ignored-daily', 'inv9', 'Org A', '2024-07-10 10:00:00+00', '', {}, {}]]),
    'data_collection_status.csv': status([
      ['2024-07-10 00:10:00+00', '2024-07-04 00:00:00+00', '2024-07-10 00:00:00+00', 'job_host_summary.csv', 'failed', '2'],
      ['2024-07-11 00:10:00+00', '2024-07-10 00:00:00+00', '2024-07-11 00:00:00+00', 'job_host_summary.csv', 'ok', '0.5'],
    ]),
  });
  writeTarball(ship, '2024-07-11', {
    'main_host.csv': `${MAIN_HOST_HEADER}\n`,
    'main_host_daily.csv': hosts([['db1', 'inv3', 'Org B', '2024-07-11 08:00:00+00', '', { ansible_product_serial: 'P3' }, {}]]),
  });
}

/**
 * August 2024: the reference's unit-test vector for indirect collections. Events: col.a h1 job 1
 * (10 events, 100 s) and h3 job 3 (8, 80 s); col.b h2 job 2 (5, 50 s). Audits: h1 job 9 (4 runs,
 * col.a.some_module), ind_h2 job 10 (6 runs, col.c.other_module and col.a.another_module).
 */
export function writeCollectionsVectorLake(ship: string): void {
  const events: string[] = [];
  let id = 1;
  const add = (host: string, job: number, action: string, n: number) => {
    for (let i = 0; i < n; i++) events.push(`${id++},${host},${action},,,,10,${job}`);
  };
  add('h1', 1, 'col.a.mod', 10);
  add('h3', 3, 'col.a.mod2', 8);
  add('h2', 2, 'col.b.x', 5);
  writeTarball(ship, '2024-08-01', {
    'job_host_summary.csv': jhs([
      '1,2024-08-01 10:00:00+00,x,h1,,0,0,10,0,0,0,2024-08-01 09:59:00+00,1,t,Org A',
      '2,2024-08-01 10:00:00+00,x,h2,,0,0,5,0,0,0,2024-08-01 09:59:00+00,2,t,Org A',
      '3,2024-08-01 10:00:00+00,x,h3,,0,0,8,0,0,0,2024-08-01 09:59:00+00,3,t,Org A',
    ]),
    'main_jobevent.csv': `${EVENT_HEADER}\n${events.map((e) => `${e}\n`).join('')}`,
  });
  writeTarball(
    ship,
    '2024-08-01',
    {
      'main_indirectmanagednodeaudit.csv': audit([
        ['2024-08-01 11:00:00+00', 'h1', {}, {}, ['col.a.some_module'], 4, '2024-08-01 10:59:00+00', 9, 't', 'Org A'],
        ['2024-08-01 11:00:00+00', 'ind_h2', {}, {}, ['col.c.other_module', 'col.a.another_module'], 6, '2024-08-01 10:59:00+00', 10, 't', 'Org A'],
      ]),
    },
    { index: 1 },
  );
}
