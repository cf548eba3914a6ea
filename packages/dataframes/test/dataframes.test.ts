import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataCollectionStatus, HostMetric, JobHostSummary, loadTarballs, MainHost, MainJobevent, openDuckDb, startDuckDb, type TallyDuckDb } from '@tally/dataframes';
import { isOutOfMemory } from '../src/duckdb.js';
import { loadExtracted, withExtracted } from '../src/load.js';
import { packTarball, schemaCsv } from '@tally/testkit';
import { DirectoryStorage } from '@tally/storage';
import { metricsUtilityTarballs } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
let db: TallyDuckDb;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-dataframes-test-'));
  db = await openDuckDb({ memoryLimit: '256MB', threads: 2 });
});
afterAll(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function csv(lines: string[], eol = '\n', finalNewline = true): Promise<string> {
  const path = join(dir, `f${++n}.csv`);
  await writeFile(path, lines.join(eol) + (finalNewline ? eol : ''));
  return path;
}

async function text(content: string): Promise<string> {
  const path = join(dir, `f${++n}.csv`);
  await writeFile(path, content);
  return path;
}

const H10 =
  'id,created,modified,host_name,changed,dark,failures,ok,processed,skipped,failed,ignored,rescued,job_remote_id,job_template_remote_id,job_template_name,inventory_remote_id,inventory_name,organization_remote_id,organization_name,project_remote_id,project_name';
const H11 =
  'id,created,modified,host_name,host_remote_id,ansible_host_variable,ansible_connection_variable,changed,dark,failures,ok,processed,skipped,failed,ignored,rescued,job_remote_id,job_template_remote_id,job_template_name,inventory_remote_id,inventory_name,organization_remote_id,organization_name,project_remote_id,project_name';
const HHOSTID = H11.replace('host_remote_id', 'host_id');
const H12 =
  'id,created,modified,host_name,host_remote_id,ansible_host_variable,ansible_connection_variable,changed,dark,failures,ok,processed,skipped,failed,ignored,rescued,job_created,job_remote_id,job_template_remote_id,job_template_name,inventory_remote_id,inventory_name,organization_remote_id,organization_name,project_remote_id,project_name';

describe('JobHostSummary', () => {
  it('normalises schemas 1.0, 1.1, 1.2 and the host_id variant, CRLF and quoted newlines', async () => {
    const jhs = new JobHostSummary(db);
    // 1.0: CRLF, no final newline, empty organization.
    await jhs.addCsv(
      await csv(
        [
          H10,
          '1,2024-03-06 12:00:56.487578+00,x,localhost,0,0,0,2,1,0,f,0,0,66,7,Demo Job Template,1,Demo Inventory,1,Default,6,Demo Project',
          '2,2024-03-06 13:00:00+00,x,localhost,0,1,0,3,1,0,f,0,0,66,7,Demo Job Template,1,Demo Inventory,1,Default,6,Demo Project',
          '3,2024-03-06 14:00:00+00,x,orphan,0,0,0,1,1,0,f,0,0,67,7,"multi\r\nline",1,Inv,,,6,P',
        ],
        '\r\n',
        false,
      ),
      { installUuid: 'u1' },
    );
    // 1.1: ansible_host replaces host_name; unreachable (dark only) row dropped.
    await jhs.addCsv(
      await csv([
        H11,
        '4,2024-03-18 10:00:00+00,x,var_1,11,real_1,local,0,0,0,1,1,1,f,0,0,70,8,T,2,I,2,Org B,8,P',
        '5,2024-03-18 11:00:00+00,x,var_2,12,,local,0,0,0,1,1,0,f,0,0,70,8,T,2,I,2,Org B,8,P',
        '6,2024-03-18 11:00:00+00,x,var_3,13,real_1,local,0,1,0,0,1,0,t,0,0,70,8,T,2,I,2,Org B,8,P',
      ]),
      { installUuid: 'u1' },
    );
    // host_id variant and 1.2 (job_created present).
    await jhs.addCsv(
      await csv([HHOSTID, '7,2024-03-19 10:00:00+00,x,var_1,11,real_1,,0,0,0,4,1,0,f,0,0,70,8,T,2,I,2,Org B,8,P']),
      { installUuid: 'u1' },
    );
    await jhs.addCsv(
      await csv([H12, '8,2024-03-20 10:00:00+00,x,h9,19,,,0,0,1,1,1,0,f,0,0,2024-03-20 09:00:00+00,71,8,T,2,I,2,Org B,8,P']),
      { installUuid: 'u2' },
    );
    await jhs.group();
    const rows = await jhs.rows();
    const brief = rows.map((r) => [
      r.organization_name,
      r.job_template_name,
      r.host_name,
      r.original_host_name,
      r.install_uuid,
      r.job_remote_id,
      r.host_runs,
      r.task_runs,
    ]);
    expect(brief).toEqual([
      ['Default', 'Demo Job Template', 'localhost', 'localhost', 'u1', 66, 2, 6],
      ['No organization name', 'multi\r\nline', 'orphan', 'orphan', 'u1', 67, 1, 1],
      ['Org B', 'T', 'h9', 'h9', 'u2', 71, 1, 2],
      ['Org B', 'T', 'real_1', 'var_1', 'u1', 70, 2, 6],
      ['Org B', 'T', 'var_2', 'var_2', 'u1', 70, 1, 1],
    ]);
    const local = rows[0]!;
    expect(local.first_automation).toEqual(new Date('2024-03-06T12:00:56.487Z'));
    expect(local.last_automation).toEqual(new Date('2024-03-06T13:00:00Z'));
    expect(local.job_created).toBeNull();
    expect(local.managed_node_types_set).toEqual(['DIRECT']);
    expect(rows[2]!.job_created).toEqual(new Date('2024-03-20T09:00:00Z'));
    expect(rows[3]!.host_names_before_dedup).toEqual(['real_1']);
  });

  it('counts unreachable hosts when reachableOnly is false', async () => {
    const path = await csv([
      H11,
      '6,2024-03-18 11:00:00+00,x,var_3,13,,local,0,1,0,0,1,0,t,0,0,70,8,T,2,I,2,Org B,8,P',
    ]);
    const strict = new JobHostSummary(db);
    await strict.addCsv(path);
    await strict.group();
    expect(await strict.count()).toBe(0);
    const lax = new JobHostSummary(db, { reachableOnly: false });
    await lax.addCsv(path);
    await lax.group();
    expect((await lax.rows()).map((r) => [r.host_name, r.task_runs, r.install_uuid])).toEqual([['var_3', 1, null]]);
  });

  it('reads indirect audits with events and JSON-set facts, and merges them with direct rows', async () => {
    const jhs = new JobHostSummary(db);
    const audit = await csv([
      'id,created,host_name,host_remote_id,canonical_facts,facts,events,task_runs,job_created,job_remote_id,job_template_remote_id,job_template_name,inventory_remote_id,inventory_name,organization_remote_id,organization_name,project_remote_id,project_name',
      `1,2024-03-06 10:00:00+00,vm1,,"{""serial"": ""S1"", ""empty"": """", ""na"": ""NA""}","{""cpu"": 4}","[""a.b.c"", ""x.y.z""]",5,2024-03-06 09:00:00+00,66,7,Demo Job Template,1,I,1,Default,6,P`,
      `2,2024-03-06 11:00:00+00,vm1,,"{""serial"": ""S2""}",not json,"[""a.b.c""]",2,2024-03-06 09:00:00+00,66,7,Demo Job Template,1,I,1,Default,6,P`,
    ]);
    await jhs.addCsv(audit, { member: 'main_indirectmanagednodeaudit.csv', installUuid: 'u1' });
    await jhs.addCsv(
      await csv([H10, '1,2024-03-06 12:00:00+00,x,vm1,0,0,0,2,1,0,f,0,0,66,7,Demo Job Template,1,I,1,Default,6,P']),
      { installUuid: 'u1' },
    );
    await jhs.group();
    const [row, ...rest] = await jhs.toJson();
    expect(rest).toEqual([]);
    expect(row).toMatchObject({
      host_name: 'vm1',
      host_runs: 3,
      task_runs: 9,
      managed_node_type: 0,
      managed_node_types_set: ['DIRECT', 'INDIRECT'],
      canonical_facts: { serial: ['S1', 'S2'] },
      facts: { cpu: [4] },
      events: ['a.b.c', 'x.y.z'],
      first_automation: '2024-03-06 10:00:00',
      last_automation: '2024-03-06 12:00:00',
      job_created: '2024-03-06 09:00:00',
    });
  });

  it('knows its columns when empty, and round-trips through Parquet, CSV and Arrow', async () => {
    const empty = new JobHostSummary(db);
    expect(await empty.toCsv()).toBe(`${empty.columns.map((c) => c.name).join(',')}\n`);
    const arrow = await empty.toArrow();
    expect(arrow.numRows).toBe(0);
    expect(arrow.schema.fields.map((f) => f.name)).toEqual(empty.columns.map((c) => c.name));
    expect(String(arrow.schema.fields.find((f) => f.name === 'task_runs')!.type)).toBe('Int64');

    const jhs = new JobHostSummary(db);
    await jhs.addCsv(
      await csv([
        H11,
        '4,2024-03-18 10:00:00.123456+00,x,var_1,11,real_1,local,0,0,0,1,1,1,f,0,0,70,8,T,2,I,2,"Org, B",8,P',
        '5,2024-03-18 11:00:00+00,x,var_2,12,,local,0,0,0,1,1,0,f,0,0,70,8,T,2,I,2,,8,P',
      ]),
      { installUuid: 'u1' },
    );
    await jhs.group();
    const parquet = join(dir, 'jhs.parquet');
    await jhs.toParquet(parquet);
    const back = new JobHostSummary(db);
    await back.addParquet(parquet);
    await back.addParquet(parquet);
    await back.group();
    const a = await jhs.rows();
    const b = await back.rows();
    expect(b.map((r) => [r.host_name, r.host_runs, r.task_runs])).toEqual(
      a.map((r) => [r.host_name, (r.host_runs as number) * 2, (r.task_runs as number) * 2]),
    );
    expect(b.map((r) => r.first_automation)).toEqual(a.map((r) => r.first_automation));
    const text = (await jhs.toCsv())!;
    expect(text.split('\n')[1]).toBe(
      'No organization name,T,var_2,var_2,u1,70,1,1,2024-03-18 11:00:00,2024-03-18 11:00:00,,0,"[""DIRECT""]",{},{},[],"[""var_2""]"',
    );
    expect(text).toContain('"Org, B",T,real_1,var_1,u1,70,1,2,2024-03-18 10:00:00.123456');
    const table = await jhs.toArrow();
    expect(table.numRows).toBe(2);
    expect(table.getChild('host_name')!.toArray()).toEqual(['var_2', 'real_1']);
    expect(table.getChild('task_runs')!.get(1)).toBe(2n);
    // Reports may query the grouped table directly.
    const [sum] = await db.all<{ t: bigint }>(`SELECT sum(task_runs) AS t FROM ${jhs.table}`);
    expect(sum!.t).toBe(3n);
  });

  it('adds Parquet files of several column sets at once, with the rows of each; a file that cannot be read is named', async () => {
    const cols = `TIMESTAMP '2024-03-01 00:00:00' AS collection_start_timestamp, TIMESTAMP '2024-03-01' AS since, TIMESTAMP '2024-03-02' AS "until", 'job_host_summary.csv' AS file_name`;
    const [full, older, other] = [join(dir, 'dcs-full.parquet'), join(dir, 'dcs-older.parquet'), join(dir, 'dcs-other.parquet')];
    await db.run(`COPY (SELECT ${cols}, 'ok' AS status, 1.5 AS elapsed FROM range(3)) TO '${full}' (FORMAT parquet)`);
    // An older part without `elapsed`, and one with its columns in another order.
    await db.run(`COPY (SELECT ${cols}, 'ok' AS status FROM range(2)) TO '${older}' (FORMAT parquet)`);
    await db.run(`COPY (SELECT 2.5 AS elapsed, 'failed' AS status, ${cols} FROM range(1)) TO '${other}' (FORMAT parquet)`);
    const dcs = new DataCollectionStatus(db);
    expect(await dcs.addParquetFiles([full, older, other])).toEqual([3, 2, 1]);
    await dcs.group();
    const rows = await db.all<{ status: string; elapsed: number | null; n: bigint }>(`SELECT status, elapsed, count(*) AS n FROM ${dcs.table} GROUP BY ALL ORDER BY ALL`);
    expect(rows.map((r) => [r.status, r.elapsed === null ? null : Number(r.elapsed), Number(r.n)])).toEqual([
      ['failed', 2.5, 1],
      ['ok', 1.5, 3],
      ['ok', null, 2],
    ]);
    const broken = join(dir, 'dcs-broken.parquet');
    await writeFile(broken, 'PAR1 not parquet');
    await expect(new DataCollectionStatus(db).addParquetFiles([full, broken])).rejects.toThrow(/dcs-broken\.parquet.*could not be read as data_collection_status/);
  });

  it('regroups with a host name mapping (dedup)', async () => {
    const jhs = new JobHostSummary(db);
    await jhs.addCsv(
      await csv([
        H10,
        '1,2024-03-06 12:00:00+00,x,a,0,0,0,2,1,0,f,0,0,66,7,T,1,I,1,O,6,P',
        '2,2024-03-06 13:00:00+00,x,b,0,0,0,3,1,0,f,0,0,66,7,T,1,I,1,O,6,P',
        '3,2024-03-06 14:00:00+00,x,c,0,0,0,1,1,0,f,0,0,66,7,T,1,I,1,O,6,P',
      ]),
    );
    await jhs.group();
    // original_host_name stays in the index, so only host_name changes and sets merge on regroup.
    await jhs.regroup({ hostNameMapping: new Map([['b', 'a']]) });
    expect((await jhs.rows()).map((r) => [r.host_name, r.original_host_name, r.task_runs])).toEqual([
      ['a', 'a', 2],
      ['a', 'b', 3],
      ['c', 'c', 1],
    ]);
  });
});

describe('MainJobevent', () => {
  it('derives module, collection and role names and sums durations', async () => {
    const ev = new MainJobevent(db);
    const ev6 = (host_name: string, task_action: string, resolved_action: string, resolved_role: string, role: string, duration: string) =>
      ({ host_name, task_action, resolved_action, resolved_role, role, duration, job_remote_id: 10 });
    await ev.addCsv(
      await text(
        schemaCsv('main_jobevent.csv', [
          ev6('h1', 'ansible.builtin.ping', '', '', '', '1.5'),
          ev6('h1', 'ping', 'ansible.builtin.ping', '', '', '2'),
          ev6('h1', 'debug', '', '', 'myrole', ''),
          ev6('h1', 'shell', '', 'ns.coll.role1', '', '0.25'),
          ev6('h1', 'shell', '', '', 'ns.role2', '1'),
          ev6('', 'shell', '', '', '', '1'),
          ev6('h2', '', '', '', '', '1'),
        ]),
      ),
      { installUuid: 'u1', member: 'main_jobevent.csv' },
    );
    await ev.group();
    expect((await ev.rows()).map((r) => [r.module_name, r.collection_name, r.role_name, r.task_runs, r.duration])).toEqual([
      ['ansible.builtin.ping', 'ansible.builtin', 'No role used', 2, 3.5],
      ['debug', 'No collection used', 'No role used', 1, 0],
      ['shell', 'No collection used', 'ns.coll.role1', 1, 0.25],
      ['shell', 'No collection used', 'ns.role2', 1, 1],
    ]);
  });
});

describe('MainHost, HostMetric, DataCollectionStatus', () => {
  it('groups hosts with sets and serials', async () => {
    const mh = new MainHost(db);
    const header =
      'host_name,host_id,inventory_remote_id,inventory_name,organization_remote_id,organization_name,last_automation,ansible_host_variable,canonical_facts,facts';
    await mh.addCsv(
      await csv([
        header,
        `h1,1,1,Inv A,1,Org A,2024-03-01 10:00:00+00,,"{""ansible_product_serial"": ""S1"", ""ansible_machine_id"": ""M1""}","{""ansible_architecture"": ""x86_64""}"`,
        `h1,2,2,Inv B,,,2024-03-02 10:00:00+00,,"{""ansible_product_serial"": ""S1""}",{}`,
      ]),
      { installUuid: 'u1', member: 'main_host.csv' },
    );
    await mh.group();
    const [row] = await mh.toJson();
    expect(row).toMatchObject({
      host_name: 'h1',
      install_uuid: 'u1',
      organizations: ['No organization name', 'Org A'],
      inventories: ['Inv A', 'Inv B'],
      serials: ['S1/M1'],
      canonical_facts: { ansible_machine_id: ['M1'], ansible_product_serial: ['S1'] },
      facts: { ansible_architecture: ['x86_64'] },
      last_automation: '2024-03-02 10:00:00',
    });
    const arrow = await mh.toArrow();
    expect(arrow.getChild('serials')!.get(0)!.toArray()).toEqual(['S1/M1']);
    const facts = arrow.getChild('canonical_facts')!.get(0)!;
    expect(facts.length).toBe(2);
    expect(facts.get(0)!.toJSON()).toEqual({ key: 'ansible_machine_id', value: '"M1"' });
    expect(arrow.getChild('last_automation')!.get(0)).toBe(Date.parse('2024-03-02T10:00:00Z'));
  });

  it('maps hosts that share a serial onto the first host seen with it (ccsp-experimental, DedupCCSP.df_to_mapping)', async () => {
    const mh = new MainHost(db);
    const cf = (serial: string, machine: string) => JSON.stringify({ ansible_product_serial: serial, ansible_machine_id: machine });
    const row = (host_name: string, facts: string, ansible_host_variable = '') => ({ host_name, organization_name: 'O', ansible_host_variable, canonical_facts: facts });
    await mh.addCsv(
      await text(
        schemaCsv('main_host.csv', [
          row('web-b', cf('S1', 'M1')), // both shared with web-a, which sorts first
          row('web-a', cf('S1', 'M1')),
          row('db1', cf('S2', 'M2')), // serial shared, machine id not: no match
          row('db2', cf('S2', 'M3')),
          row('app1', cf('S4', 'M4')), // machine id shared, serial not: no match
          row('app2', cf('S5', 'M4')),
          row('na1', cf('NA', 'NA')), // 'NA' counts here, unlike Renewal Guidance
          row('na2', cf('NA', 'NA')),
          row('blank1', cf('', 'M9')), // a blank is no null: '/M9' is a serial (compute_serial)
          row('blank2', cf('', 'M9')),
          row('nulls1', JSON.stringify({ ansible_product_serial: null, ansible_machine_id: 'M8' })), // null: no serial
          row('nulls2', JSON.stringify({ ansible_machine_id: 'M8' })),
          row('old-name', cf('S7', 'M7'), 'renamed.example.com'), // host_name is ansible_host when set
          row('zz-clone', cf('S7', 'M7')),
        ]),
      ),
      { member: 'main_host.csv' },
    );
    expect(await mh.hostNameMapping()).toEqual(
      new Map([
        ['blank2', 'blank1'],
        ['na2', 'na1'],
        ['web-b', 'web-a'],
        ['zz-clone', 'renamed.example.com'],
      ]),
    );
  });

  it('maps a host with several serials by the last of them, one hop only', async () => {
    const mh = new MainHost(db);
    const cf = (serial: string, machine: string) => JSON.stringify({ ansible_product_serial: serial, ansible_machine_id: machine });
    await mh.addCsv(
      await text(
        schemaCsv('main_host.csv', [
          { host_name: 'a', organization_name: 'O', canonical_facts: cf('P', '1') },
          { host_name: 'b', organization_name: 'O', canonical_facts: cf('P', '1') },
          { host_name: 'b', organization_name: 'O', canonical_facts: cf('Q', '2') },
          { host_name: 'c', organization_name: 'O', canonical_facts: cf('Q', '2') },
        ]),
      ),
      { member: 'main_host.csv' },
    );
    // P/1 is first seen on a (a, b → a); Q/2 first on b (b, c → b) and comes later: b stays b, c → b
    expect(await mh.hostNameMapping()).toEqual(new Map([['c', 'b']]));
  });

  it('concatenates host metrics and collection status rows', async () => {
    const hm = new HostMetric(db);
    await hm.addCsv(
      await csv([
        'hostname,host_id,first_automation,last_automation,automated_counter,deleted_counter,last_deleted,deleted,ansible_product_serial,ansible_machine_id,ansible_host_variable,ansible_connection_variable',
        'h1,1,2024-01-01 00:00:00+00,2024-02-01 00:00:00+00,5,0,,f,S,M,,',
        'h1,2,2024-01-01 00:00:00+00,2024-02-01 00:00:00+00,1,1,2024-02-02 00:00:00+00,t,,,,',
      ]),
    );
    await hm.group();
    expect((await hm.rows()).map((r) => [r.hostname, r.host_id, r.deleted, r.last_deleted])).toEqual([
      ['h1', 1, false, null],
      ['h1', 2, true, new Date('2024-02-02T00:00:00Z')],
    ]);
    const dcs = new DataCollectionStatus(db);
    await dcs.addCsv(
      await csv([
        'collection_start_timestamp,since,until,file_name,status,elapsed',
        '2024-03-11 07:59:01.458923+00:00,2024-03-06 00:00:00+00:00,2024-03-07 00:00:00+00:00,job_host_summary.csv,ok,0',
      ]),
    );
    await dcs.group();
    expect(await dcs.toJson()).toEqual([
      {
        collection_start_timestamp: '2024-03-11 07:59:01.458923',
        since: '2024-03-06 00:00:00',
        until: '2024-03-07 00:00:00',
        file_name: 'job_host_summary.csv',
        status: 'ok',
        elapsed: 0,
      },
    ]);
  });
});

describe('loadTarballs', () => {
  it('loads every fixture tarball; the macOS repack gives the known row counts', async () => {
    const storage = new DirectoryStorage({ base: metricsUtilityTarballs().base });
    const all = new JobHostSummary(db);
    const dcs = new DataCollectionStatus(db);
    const r = await loadTarballs([all, dcs], { storage, since: new Date('2024-02-01Z'), until: new Date('2024-05-01Z') });
    expect(r.failures).toEqual([]);
    expect(r.tarballs).toHaveLength(29);
    expect(await dcs.count()).toBe(29);
    expect(await all.count()).toBeGreaterThan(1000);

    const day = new JobHostSummary(db, { reachableOnly: false });
    await loadTarballs([day], { storage, since: new Date('2024-04-17Z'), until: new Date('2024-04-18Z') });
    const byOrg = await db.all<{ o: string; runs: bigint; hosts: bigint; jobs: bigint }>(
      `SELECT organization_name AS o, sum(host_runs) AS runs, count(DISTINCT original_host_name) AS hosts,
              count(DISTINCT job_remote_id) AS jobs FROM ${day.table} GROUP BY 1 ORDER BY 1`,
    );
    expect(byOrg.map((x) => [x.o, Number(x.runs)])).toEqual([
      ['Cowes Marina', 2377],
      ['Hamble Yacht Charters', 1437],
    ]);
    const [tot] = await db.all<{ h: bigint; j: bigint }>(
      `SELECT count(DISTINCT original_host_name) AS h, count(DISTINCT job_remote_id) AS j FROM ${day.table}`,
    );
    expect(Number(tot!.h)).toBe(1266);
    expect(Number(tot!.j)).toBe(38);
  });

  it('a CSV that fails inside the batch scan (valid header, invalid UTF-8) drops only its tarball', async () => {
    const base = join(dir, 'ship-scan');
    const d = 'data/2024/03/06';
    const row = (id: number, host: string) => `${id},2024-03-06 12:00:00+00,x,${host},0,0,0,2,1,0,f,0,0,66,7,T,1,I,1,O,6,P\n`;
    for (const [name, host] of [['a', 'ha'], ['c', 'hc']] as const) {
      await packTarball(join(base, d, `${name}.tar.gz`), [
        { name: 'job_host_summary.csv', content: `${H10}\n${row(1, host)}` },
        { name: 'data_collection_status.csv', content: `collection_start_timestamp,since,until,file_name,status,elapsed\n,,,${name},ok,0\n` },
      ]);
    }
    await packTarball(join(base, d, 'b.tar.gz'), [
      { name: 'data_collection_status.csv', content: 'collection_start_timestamp,since,until,file_name,status,elapsed\n,,,b,ok,0\n' },
      {
        name: 'job_host_summary.csv',
        // The second row's host_name is not UTF-8: DuckDB's read_csv refuses it mid-scan.
        content: Buffer.concat([Buffer.from(`${H10}\n${row(1, 'hb')}`), Buffer.from(row(2, 'HOST').replace('HOST', '\u0000')).map((b) => (b === 0 ? 0xff : b))]),
      },
    ]);
    const jhs = new JobHostSummary(db);
    const dcs = new DataCollectionStatus(db);
    const r = await loadTarballs([jhs, dcs], {
      storage: new DirectoryStorage({ base }),
      since: new Date('2024-03-06Z'),
      until: new Date('2024-03-07Z'),
    });
    expect(r.failures.map((f) => f.file)).toEqual([`${d}/b.tar.gz`]);
    expect(r.tarballs).toEqual([`${d}/a.tar.gz`, `${d}/c.tar.gz`]);
    expect((await dcs.rows()).map((x) => x.file_name).sort()).toEqual(['a', 'c']);
    expect((await jhs.rows()).map((x) => x.host_name)).toEqual(['ha', 'hc']);
  });

  it('a counter that is not an integer, or a short row, refuses its tarball (named, with member and line); the others load', async () => {
    const base = join(dir, 'ship-typed');
    const d = 'data/2024/03/07';
    const row = (host: string, failures: string, ok: string) => `1,2024-03-07 12:00:00+00,x,${host},0,0,${failures},${ok},1,0,f,0,0,66,7,T,1,I,1,O,6,P\n`;
    await packTarball(join(base, d, 'a.tar.gz'), [{ name: 'job_host_summary.csv', content: `${H10}\n${row('ha', '0', '2')}` }]);
    await packTarball(join(base, d, 'b.tar.gz'), [{ name: 'job_host_summary.csv', content: `${H10}\n${row('hb', '1', '2')}${row('hc', '0', 'x2')}` }]);
    // A row cut after its job id.
    await packTarball(join(base, d, 'c.tar.gz'), [{ name: 'job_host_summary.csv', content: `${H10}\n1,2024-03-07 13:00:00+00,x,hd,0,0,0,4,1,0,f,0,0,67\n` }]);
    const jhs = new JobHostSummary(db);
    const debug: string[] = [];
    const logger = { debug: (m: string) => debug.push(m), info() {}, warn() {}, error() {} } as never;
    const r = await loadTarballs([jhs], { storage: new DirectoryStorage({ base }), since: new Date('2024-03-07Z'), until: new Date('2024-03-08Z'), logger });
    expect(debug).toEqual(['batch read failed; checking tarball by tarball']);
    expect(r.failures).toEqual([
      { file: `${d}/b.tar.gz`, member: 'job_host_summary.csv', line: 3, error: 'job_host_summary.csv: line 3: column ok: "x2" is not an integer' },
      { file: `${d}/c.tar.gz`, member: 'job_host_summary.csv', line: 2, error: 'job_host_summary.csv: line 2: missing fields (expected 22, found 14)' },
    ]);
    expect(r.tarballs).toEqual([`${d}/a.tar.gz`]);
    expect((await jhs.rows()).map((x) => [x.organization_name, x.host_name, x.task_runs])).toEqual([['O', 'ha', 2]]);
  });

  it('bad tarballs in the middle of a month extracted concurrently contribute nothing, are named, and the rest keeps name order', async () => {
    const base = join(dir, 'ship-concurrent');
    const d = 'data/2024/03/08';
    const row = (host: string, ok: string) => `1,2024-03-08 12:00:00+00,x,${host},0,0,0,${ok},1,0,f,0,0,66,7,T,1,I,1,O,6,P\n`;
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    // Eight tarballs: every extraction slot is busy when c and e come. c: a malformed row after a good
    // one (the batch scan fails); e: cut short (extraction fails).
    for (const name of names) {
      const content = `${H10}\n${row(`h${name}`, '2')}${name === 'c' ? row('hc2', 'x2') : ''}`;
      const path = join(base, d, `${name}.tar.gz`);
      await packTarball(path, [
        { name: 'job_host_summary.csv', content },
        { name: 'data_collection_status.csv', content: `collection_start_timestamp,since,until,file_name,status,elapsed\n,,,${name},ok,0\n` },
      ]);
      if (name === 'e') {
        const { readFile } = await import('node:fs/promises');
        const bytes = await readFile(path);
        await writeFile(path, bytes.subarray(0, bytes.length - 20));
      }
    }
    const jhs = new JobHostSummary(db);
    const dcs = new DataCollectionStatus(db);
    const r = await loadTarballs([jhs, dcs], { storage: new DirectoryStorage({ base }), since: new Date('2024-03-08Z'), until: new Date('2024-03-09Z') });
    expect(r.failures.map((f) => [f.file, f.member, f.line])).toEqual([
      [`${d}/c.tar.gz`, 'job_host_summary.csv', 3],
      [`${d}/e.tar.gz`, undefined, undefined],
    ]);
    expect(r.failures[1]!.error).toMatch(/truncated|corrupt|unreadable/);
    const kept = names.filter((x) => x !== 'c' && x !== 'e');
    expect(r.tarballs).toEqual(kept.map((x) => `${d}/${x}.tar.gz`));
    expect([...(r.digests?.keys() ?? [])].sort()).toEqual(names.filter((x) => x !== 'e').map((x) => `${d}/${x}.tar.gz`));
    expect((await dcs.rows()).map((x) => x.file_name).sort()).toEqual(kept);
    expect((await jhs.rows()).map((x) => x.host_name).sort()).toEqual(kept.map((x) => `h${x}`));
  });

  it('a tarball with an unreadable CSV contributes nothing to any dataframe', async () => {
    const base = join(dir, 'ship');
    const d = 'data/2024/03/05';
    await packTarball(join(base, d, 'a.tar.gz'), [
      { name: 'job_host_summary.csv', content: `${H10}\n1,2024-03-05 12:00:00+00,x,h,0,0,0,2,1,0,f,0,0,66,7,T,1,I,1,O,6,P\n` },
      { name: 'data_collection_status.csv', content: 'collection_start_timestamp,since,until,file_name,status,elapsed\n,,,a,ok,0\n' },
    ]);
    await packTarball(join(base, d, 'b.tar.gz'), [
      { name: 'data_collection_status.csv', content: 'collection_start_timestamp,since,until,file_name,status,elapsed\n,,,b,ok,0\n' },
      { name: 'job_host_summary.csv', content: 'id,bad column!\n1,2\n' },
    ]);
    const jhs = new JobHostSummary(db);
    const dcs = new DataCollectionStatus(db);
    const r = await loadTarballs([jhs, dcs], {
      storage: new DirectoryStorage({ base }),
      since: new Date('2024-03-05Z'),
      until: new Date('2024-03-06Z'),
    });
    expect(r.tarballs).toEqual([`${d}/a.tar.gz`]);
    expect(r.failures.map((f) => f.file)).toEqual([`${d}/b.tar.gz`]);
    expect(r.failures[0]!.error).toMatch(/bad column!/);
    expect((await dcs.rows()).map((x) => x.file_name)).toEqual(['a']);
    expect(await jhs.count()).toBe(1);
  });

  it('withExtracted removes the extracted files after use: awaited, in the background, or after a failure', async () => {
    const storage = new DirectoryStorage({ base: metricsUtilityTarballs().base });
    const window = { storage, since: new Date('2024-03-01Z'), until: new Date('2024-03-04Z') };
    const exists = (dir: string) => access(dir).then(() => true, () => false);
    const jhs = new JobHostSummary(db);
    try {
      for (const removeInBackground of [false, true]) {
        let dirs: string[] = [];
        const r = await withExtracted([jhs], window, async (extracted) => {
          dirs = extracted.map((t) => t.dir);
          expect(await Promise.all(dirs.map(exists))).toEqual(dirs.map(() => true));
        }, { removeInBackground });
        expect(dirs).toHaveLength(3);
        await r.removed;
        expect(await Promise.all(dirs.map(exists))).toEqual(dirs.map(() => false));
      }
      let dirs: string[] = [];
      const failed = withExtracted([jhs], window, async (extracted) => {
        dirs = extracted.map((t) => t.dir);
        throw new Error('use failed');
      }, { removeInBackground: true });
      await expect(failed).rejects.toThrow('use failed');
      expect(dirs).toHaveLength(3);
      expect(await Promise.all(dirs.map(exists))).toEqual(dirs.map(() => false));
    } finally {
      await jhs.drop();
    }
  });

  it('a database started in the background runs its statements, in order, once open', async () => {
    const early = startDuckDb({ memoryLimit: '64MB', threads: 1 });
    expect(() => early.connection).toThrow('still opening');
    try {
      // Issued before the open settles: each waits for it, and they run in the order issued.
      const created = early.run('CREATE TABLE t AS SELECT 1 AS x');
      const inserted = early.run('INSERT INTO t VALUES (2)');
      const read = early.all<{ x: number }>('SELECT x FROM t ORDER BY x');
      await Promise.all([created, inserted]);
      expect(await read).toEqual([{ x: 1 }, { x: 2 }]);
      expect(early.connection).toBeDefined();
    } finally {
      await early.close();
    }
  });

  it('a database that cannot open rejects its statements with why, and closes without error', async () => {
    const bad = startDuckDb({ memoryLimit: 'not a size', threads: 1 });
    await expect(bad.opened).rejects.toThrow('Failed to set config');
    await expect(bad.run('SELECT 1')).rejects.toThrow('Failed to set config');
    await expect(bad.close()).resolves.toBeUndefined();
  });

  it('closing waits for the statements issued before it (closing under one would leave it pending), and refuses later ones', async () => {
    const db = startDuckDb({ memoryLimit: '64MB', threads: 1 });
    const long = db.all<{ n: bigint }>('SELECT count(*) AS n FROM range(20000000) t(x) WHERE x % 7 = 1');
    const queued = db.all<{ v: number }>('SELECT 42 AS v');
    await new Promise((r) => setTimeout(r, 20));
    await db.close();
    expect((await long)[0]?.n).toBe(2857143n);
    expect(await queued).toEqual([{ v: 42 }]);
    await expect(db.run('SELECT 1')).rejects.toThrow('closed');
  });

  it('the second connection runs its statements beside the first one\'s, in UTC, sharing committed tables but not temp tables', async () => {
    const db = startDuckDb({ memoryLimit: '64MB', threads: 1 });
    try {
      const order: string[] = [];
      const long = db.all('SELECT count(*) AS n FROM range(30000000) t(x) WHERE x % 7 = 1').then(() => order.push('long'));
      const beside = db.beside.all<{ tz: string }>("SELECT current_setting('TimeZone') AS tz").then((r) => order.push(`beside ${r[0]?.tz}`));
      await Promise.all([long, beside]);
      // Not queued behind the first connection's statement.
      expect(order).toEqual(['beside UTC', 'long']);
      await db.run('CREATE TABLE shared AS SELECT 1 AS x');
      await db.run('CREATE TEMP TABLE mine AS SELECT 2 AS x');
      expect(await db.beside.all('SELECT x FROM shared')).toEqual([{ x: 1 }]);
      await expect(db.beside.all('SELECT x FROM mine')).rejects.toThrow('mine');
      await db.beside.run('CREATE TABLE theirs AS SELECT 3 AS x');
      expect(await db.rows('SELECT x FROM theirs')).toEqual([[3]]);
    } finally {
      await db.close();
    }
  });

  it("a failure on the second connection is its own: its statement rejects, its aborted transaction reports it first, the first connection's go on", async () => {
    const db = startDuckDb({ memoryLimit: '64MB', threads: 1 });
    try {
      await db.beside.run('BEGIN TRANSACTION');
      await expect(db.beside.run("SELECT error('injected beside')")).rejects.toThrow('injected beside');
      // The aborted transaction's next statement reports the failure that aborted it.
      await expect(db.beside.run('SELECT 1')).rejects.toThrow('injected beside');
      expect(await db.all('SELECT 42 AS v')).toEqual([{ v: 42 }]);
      await db.beside.run('ROLLBACK');
      expect(await db.beside.all('SELECT 7 AS v')).toEqual([{ v: 7 }]);
    } finally {
      await db.close();
    }
  });

  it('closing waits for the second connection\'s statements too, then refuses them', async () => {
    const db = startDuckDb({ memoryLimit: '64MB', threads: 1 });
    const long = db.beside.all<{ n: bigint }>('SELECT count(*) AS n FROM range(20000000) t(x) WHERE x % 7 = 1');
    await new Promise((r) => setTimeout(r, 20));
    await db.close();
    expect((await long)[0]?.n).toBe(2857143n);
    await expect(db.beside.run('SELECT 1')).rejects.toThrow('closed');
  });

  it('rows are read to their end before the connection runs its next statement', async () => {
    const db = startDuckDb({ memoryLimit: '64MB', threads: 1 });
    try {
      // More than one chunk (2,048 rows) of results, with the next statement already issued.
      const many = db.rows('SELECT x, encode(x::VARCHAR) AS b FROM range(5000) t(x) ORDER BY x');
      const next = db.run('CREATE TABLE after_rows AS SELECT 1 AS x');
      const rows = await many;
      await next;
      expect(rows).toHaveLength(5000);
      expect(rows[4999]?.[0]).toBe(4999n);
      expect(Buffer.from(rows[4999]?.[1] as Uint8Array).toString()).toBe('4999');
    } finally {
      await db.close();
    }
  });

  it('running out of memory drops no tarball: the batch retries tarball by tarball, or throws when asked', async () => {
    const small = await openDuckDb({ memoryLimit: '64MB', threads: 1 });
    try {
      const storage = new DirectoryStorage({ base: metricsUtilityTarballs().base });
      const attempt = async (outOfMemory: 'retry' | 'throw' | undefined) => {
        const jhs = new JobHostSummary(small);
        const debug: string[] = [];
        const out = { loaded: [] as string[], failures: [] as unknown[], err: undefined as unknown };
        await withExtracted([jhs], { storage, since: new Date('2024-03-01Z'), until: new Date('2024-03-04Z') }, (extracted, result) => {
          out.loaded = result.tarballs;
          out.failures = result.failures;
          return loadExtracted([jhs], extracted, result, { debug: (m: string) => debug.push(m), info() {}, warn() {}, error() {} } as never, {
            stage: true,
            // A list of 20M integers cannot spill: a genuine out-of-memory, every time.
            finish: async () => {
              await small.run('SELECT len(list(range)) FROM range(20000000)');
            },
            outOfMemory,
          });
        }).catch((e: unknown) => {
          out.err = e;
        });
        await jhs.drop();
        return { ...out, debug };
      };
      const thrown = await attempt('throw');
      expect(isOutOfMemory(thrown.err)).toBe(true);
      expect([thrown.debug, thrown.loaded, thrown.failures]).toEqual([[], [], []]);
      // Retried: every tarball is read (none blamed), then the finish runs out again and throws.
      const retried = await attempt(undefined);
      expect(isOutOfMemory(retried.err)).toBe(true);
      expect(retried.debug).toEqual(['batch ran out of memory; loading tarball by tarball']);
      expect(retried.loaded).toHaveLength(3);
      expect(retried.failures).toEqual([]);
      expect(isOutOfMemory(new Error('CSV could not be read'))).toBe(false);
    } finally {
      await small.close();
    }
  });

});
