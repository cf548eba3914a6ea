import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  JobHostSummary,
  loadUsage,
  MainJobevent,
  openDuckDb,
  periodWindows,
  readManifest,
  rollup,
  USAGE_TABLES,
  type UsageTables,
  usageFromRollups,
  usageRollupsOverlap,
  writeUsageRollup,
} from '@tally/dataframes';
import { DirectoryStorage } from '@tally/storage';
import { schemaCsv } from '@tally/testkit';
import { metricsUtilityTarballs, parseCsv } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The usage tables aggregated straight from the CSV scans must equal those built from grouped
// rows (the reference's index), whatever duplicates, INDIRECT members and NULLs the data holds.

let base: string;
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'tally-usage-'));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

interface Load {
  ship: string;
  firstDay: Date;
  lastDay: Date;
  organizationFilter?: string[];
  method?: 'grouped';
  hostNameMapping?: Map<string, string>;
}

async function snapshot(opts: Load): Promise<{ method: UsageTables['method']; empty: boolean; tables: Record<string, unknown[]> }> {
  await using db = await openDuckDb();
  const loaded = await loadUsage({
    storage: new DirectoryStorage({ base: opts.ship }),
    since: opts.firstDay,
    until: new Date(opts.lastDay.getTime() + 86_400_000),
    jobHostSummary: new JobHostSummary(db, { reachableOnly: false }),
    events: new MainJobevent(db),
    ...(opts.organizationFilter ? { organizationFilter: opts.organizationFilter } : {}),
    ...(opts.method ? { method: opts.method } : {}),
    ...(opts.hostNameMapping ? { onLoaded: async () => ({ hostNameMapping: opts.hostNameMapping }) } : {}),
  });
  await loaded.removed;
  const t = loaded.usage;
  const tables: Record<string, unknown[]> = {};
  for (const name of [t.hosts, t.jobs, ...(t.hostMap ? [t.hostMap] : [])]) {
    tables[name] = await t.db.all(`SELECT * FROM ${name} ORDER BY ALL`);
  }
  return { method: t.method, empty: t.empty, tables };
}

/** Both ways on the same input: equal tables; returns the fast one's outcome. */
async function compare(opts: Load) {
  const fast = await snapshot(opts);
  const exact = await snapshot({ ...opts, method: 'grouped' });
  expect(exact.method).toBe('grouped');
  expect(fast.tables).toEqual(exact.tables);
  expect(fast.empty).toBe(exact.empty);
  return fast;
}

const JHS_HEADER = 'id,created,modified,host_name,ansible_host_variable,dark,failures,ok,skipped,ignored,rescued,job_created,job_remote_id,job_template_name,organization_name';
const AUDIT_HEADER = 'created,host_name,canonical_facts,facts,events,task_runs,job_created,job_remote_id,job_template_name,organization_name';

/** One daily tarball `data/YYYY/MM/DD/{uuid}-….tar.gz` with the given members. */
function tarball(ship: string, day: string, uuid: string, members: Record<string, string>, index = 0, config: object = { install_uuid: uuid }): void {
  const src = mkdtempSync(join(base, 'src-'));
  writeFileSync(join(src, 'config.json'), JSON.stringify(config));
  // The rows name a few columns; the member holds them in its full schema.
  for (const [name, text] of Object.entries(members)) writeFileSync(join(src, name), schemaCsv(name, parseCsv(text)));
  const [y, m, d] = day.split('-');
  const dir = join(ship, 'data', y!, m!, d!);
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['czf', join(dir, `${uuid}-${day}-000000+0000-${day}-235959+0000-${index}.tar.gz`), '-C', src, '.']);
}

const june = { firstDay: new Date('2024-06-01T00:00:00Z'), lastDay: new Date('2024-06-30T00:00:00Z') };

/**
 * Duplicate deliveries across tarballs, INDIRECT audit rows (one sharing a job host summary's
 * index, one alone), hosts renamed by ansible_host, NULL template and host, an empty
 * organization, the same job id under two installs, and events.
 */
function edgeCaseLake(ship: string, opts: { jobCreatedDrift?: boolean } = {}): void {
  const web1 = '1,2024-06-01 10:00:00.000001+00,x,web1,10.0.0.1,0,0,3,0,0,0,2024-06-01 09:59:00+00,7,deploy,Org A';
  const web2 = '2,2024-06-01 10:00:01+00,x,web2,,1,0,1,0,0,0,2024-06-01 09:59:00+00,7,deploy,Org A';
  tarball(ship, '2024-06-01', 'u-1', {
    'job_host_summary.csv':
      `${JHS_HEADER}\n${web1}\n${web2}\n` +
      '3,2024-06-01 11:00:00+00,x,web3,,0,0,2,1,0,0,2024-06-01 10:58:00+00,8,,\n' +
      '4,2024-06-01 11:00:02+00,x,,,0,0,1,0,0,0,2024-06-01 10:58:00+00,8,,\n' +
      '5,2024-06-01 12:00:00+00,x,alias1,10.0.0.1,0,0,4,0,0,0,2024-06-01 11:58:00+00,9,patch,Org A\n' +
      '6,2024-06-01 12:00:01+00,x,alias2,10.0.0.1,0,2,0,0,1,0,2024-06-01 11:58:00+00,9,patch,Org A\n',
    'main_jobevent.csv':
      'id,host_name,task_action,resolved_action,role,resolved_role,duration,job_remote_id\n' +
      '1,web1,copy,ansible.builtin.copy,,,1.5,7\n2,alias1,shell,,r1,,2,9\n3,alias2,shell,,r1,,1,9\n4,web3,debug,,,,0.5,8\n',
  });
  // The next day re-delivers two of job 7's rows (one with a later job_created when drifting).
  const drifted = opts.jobCreatedDrift ? web2.replace('2024-06-01 09:59:00+00', '2024-06-01 09:59:30+00') : web2;
  tarball(ship, '2024-06-02', 'u-1', {
    'job_host_summary.csv': `${JHS_HEADER}\n${web1}\n${drifted}\n7,2024-06-02 08:00:00+00,x,db1,,0,0,5,0,0,0,2024-06-02 07:59:00+00,10,backup,Org B\n`,
  });
  // Audits come in a tarball of their own (a tarball's audit rows count only without job host summaries).
  tarball(ship, '2024-06-02', 'u-1', {
    'main_indirectmanagednodeaudit.csv':
      `${AUDIT_HEADER}\n` +
      '2024-06-01 10:05:00+00,web2,"{""serial"": ""s1""}",{},"[""e1""]",4,2024-06-01 09:59:00+00,7,deploy,Org A\n' +
      '2024-06-02 09:00:00+00,ind-only,{},{},[],2,2024-06-02 08:59:00+00,11,discover,Org B\n',
  }, 1);
  // Job 7 again, from another controller.
  tarball(ship, '2024-06-03', 'u-2', {
    'job_host_summary.csv': `${JHS_HEADER}\n8,2024-06-03 10:00:00+00,x,web1,10.0.0.1,0,0,1,0,0,0,2024-06-03 09:59:00+00,7,deploy,Org A\n`,
  });
}

describe('usage tables', () => {
  it('every fixture month: the tables from the scans equal those from grouped rows', async () => {
    const ship = join(base, 'fixtures');
    cpSync(join(metricsUtilityTarballs().base, 'data'), join(ship, 'data'), { recursive: true });
    for (const month of ['2024-02', '2024-03', '2024-04']) {
      const firstDay = new Date(`${month}-01T00:00:00Z`);
      const lastDay = new Date(Date.UTC(firstDay.getUTCFullYear(), firstDay.getUTCMonth() + 1, 0));
      const fast = await compare({ ship, firstDay, lastDay });
      expect(fast.method).toBe('scan');
      expect(fast.tables.report_hosts!.length).toBeGreaterThan(0);
    }
  });

  it('duplicates, INDIRECT members, NULLs, two installs and events: equal to the tables from grouped rows', async () => {
    const ship = join(base, 'edge');
    edgeCaseLake(ship);
    const fast = await compare({ ship, ...june });
    expect(fast.method).toBe('scan');
    const hosts = fast.tables.report_hosts as Record<string, unknown>[];
    const web2 = hosts.find((h) => h.h === 'web2')!;
    // Delivered twice: one grouped row; its task runs counted twice (as the reference sums them)
    // plus the INDIRECT member's 4; the INDIRECT member's later time is its last automation.
    expect(web2).toMatchObject({ o: 'Org A', t: 'deploy', n: 1n, tr: 2n + 2n + 4n });
    expect(web2.l).toEqual(new Date('2024-06-01T10:05:00Z'));
    // Two inventory hosts behind one ansible_host are two grouped rows of one managed node.
    expect(hosts.find((h) => h.h === '10.0.0.1' && h.t === 'patch')).toMatchObject({ n: 2n });
    // The same job id under two installs counts twice; INDIRECT-only hosts are not managed nodes.
    expect(hosts.find((h) => h.h === '10.0.0.1' && h.t === 'deploy')).toMatchObject({ n: 2n });
    expect(hosts.some((h) => h.h === 'ind-only')).toBe(false);
    expect((fast.tables.report_jobs as unknown[]).length).toBe(5);
    expect(fast.tables.report_host_map).toEqual([
      { original_host_name: 'alias1', install_uuid: 'u-1', job_remote_id: 9n, host_name: '10.0.0.1' },
      { original_host_name: 'alias2', install_uuid: 'u-1', job_remote_id: 9n, host_name: '10.0.0.1' },
      { original_host_name: 'web1', install_uuid: 'u-1', job_remote_id: 7n, host_name: '10.0.0.1' },
      { original_host_name: 'web1', install_uuid: 'u-2', job_remote_id: 7n, host_name: '10.0.0.1' },
    ]);
  });

  it('hosts renamed (ccsp-experimental) as the rows are read: equal to the tables from rows regrouped with the mapping', async () => {
    const ship = join(base, 'edge-renamed');
    edgeCaseLake(ship);
    const hostNameMapping = new Map([['web2', '10.0.0.1'], ['web3', 'db1'], ['ind-only', 'db1']]);
    const fast = await compare({ ship, ...june, hostNameMapping });
    expect(fast.method).toBe('scan');
    const hosts = fast.tables.report_hosts as Record<string, unknown>[];
    expect(hosts.some((h) => h.h === 'web2' || h.h === 'web3')).toBe(false);
    // web1 under two installs and web2 (renamed, with its INDIRECT member's 4 task runs): three grouped rows
    expect(hosts.find((h) => h.h === '10.0.0.1' && h.t === 'deploy')).toMatchObject({ n: 3n, tr: 3n + 3n + 1n + 2n + 2n + 4n });
    expect(hosts.find((h) => h.h === 'db1' && h.t === null)).toMatchObject({ n: 1n, tr: 3n });
    expect(fast.tables.report_host_map).toContainEqual({ original_host_name: 'web3', install_uuid: 'u-1', job_remote_id: 8n, host_name: 'db1' });
  });

  it('a tarball without install_uuid beside one with: each host row keeps its own install (NULL too), as grouped', async () => {
    const ship = join(base, 'no-install');
    const rows = `${JHS_HEADER}\n1,2024-06-04 10:00:00+00,x,web1,,0,0,1,0,0,0,2024-06-04 09:59:00+00,7,deploy,Org A\n`;
    tarball(ship, '2024-06-04', 'u-1', { 'job_host_summary.csv': rows });
    tarball(ship, '2024-06-04', 'u-9', { 'job_host_summary.csv': rows }, 1, {});
    const fast = await compare({ ship, ...june });
    expect(fast.method).toBe('scan');
    // The same job under two installs (one of them none): two grouped rows, two jobs.
    expect(fast.tables.report_hosts).toMatchObject([{ h: 'web1', n: 2n }]);
    expect(fast.tables.report_jobs).toEqual([
      { o: 'Org A', t: 'deploy', u: 'u-1', j: 7n },
      { o: 'Org A', t: 'deploy', u: null, j: 7n },
    ]);
  });

  it('an organization filter applies to both, and one matching nothing leaves the period non-empty', async () => {
    const ship = join(base, 'edge');
    const onlyB = await compare({ ship, ...june, organizationFilter: ['Org B'] });
    expect((onlyB.tables.report_hosts as Record<string, unknown>[]).map((h) => h.h)).toEqual(['db1']);
    const none = await compare({ ship, ...june, organizationFilter: ['Nobody'] });
    expect(none.tables.report_hosts).toEqual([]);
    expect(none.empty).toBe(false);
  });

  it('members of one grouped row disagreeing on job_created: its maximum counts, as grouped', async () => {
    const ship = join(base, 'drift');
    edgeCaseLake(ship, { jobCreatedDrift: true });
    const fast = await compare({ ship, ...june });
    expect(fast.method).toBe('scan');
    const web2 = (fast.tables.report_hosts as Record<string, unknown>[]).find((h) => h.h === 'web2')!;
    expect([web2.jc_first, web2.jc_last]).toEqual([new Date('2024-06-01T09:59:30Z'), new Date('2024-06-01T09:59:30Z')]);
  });

  it('a row repeated inside one tarball, and a NULL job id, group as the reference groups them', async () => {
    const ship = join(base, 'repeat');
    const row = (id: number, host: string, job: string, jc: string) => `${id},2024-06-05 10:00:00+00,x,${host},,0,0,1,0,0,0,${jc},${job},t1,Org A`;
    tarball(ship, '2024-06-05', 'u-1', {
      'job_host_summary.csv': `${[
        JHS_HEADER,
        row(1, 'h1', '20', '2024-06-05 09:00:00+00'),
        row(1, 'h1', '20', '2024-06-05 09:30:00+00'),
        row(2, 'h1', '21', '2024-06-05 08:00:00+00'),
        row(3, 'h1', '', ''),
        row(4, 'h1', '', '2024-06-05 07:00:00+00'),
        row(5, 'h2', '20', '2024-06-05 09:00:00+00'),
      ].join('\n')}\n`,
    });
    const fast = await compare({ ship, ...june });
    expect(fast.method).toBe('scan');
    const hosts = fast.tables.report_hosts as Record<string, unknown>[];
    // h1: jobs 20 (twice), 21 and none (twice) are three grouped rows; the earliest grouped
    // job_created is the job-less row's 07:00; job 20's row counts with its later 09:30.
    expect(hosts.find((h) => h.h === 'h1')).toMatchObject({ n: 3n, tr: 5n, jc_first: new Date('2024-06-05T07:00:00Z'), jc_last: new Date('2024-06-05T09:30:00Z') });
    expect((fast.tables.report_jobs as Record<string, unknown>[]).map((j) => j.j)).toEqual([20n, 21n, null]);
  });

  it('an empty period is empty both ways', async () => {
    const ship = join(base, 'nothing');
    mkdirSync(ship);
    const fast = await compare({ ship, ...june });
    expect(fast.empty).toBe(true);
    expect(fast.tables.report_hosts).toEqual([]);
  });
});

describe('usage rollups', () => {
  /** Every day's usage rollup files of `ship` (local paths), from the day manifests. */
  async function usageFiles(ship: string, since: Date, until: Date) {
    const storage = new DirectoryStorage({ base: ship });
    const files = { hosts: [] as string[], jobs: [] as string[], indirectRows: 0 };
    for (const w of periodWindows(since, until, 'day')) {
      const m = await readManifest(storage, 'day', w.date);
      if (!m?.usage) continue;
      files.hosts.push(join(ship, m.usage.hosts.name));
      files.jobs.push(join(ship, m.usage.jobs.name));
      files.indirectRows += m.usage.indirectRows;
    }
    return files;
  }

  const row = (id: number, day: string, host: string, job: string, jc: string, tmpl = 't1', org = 'Org A') =>
    `${id},${day} 10:00:0${id % 10}+00,x,${host},,0,0,${id % 3},0,0,0,${jc},${job},${tmpl},${org}`;

  it('merged from daily usage rollups: the very tables built from the tarballs, when no job is in two days', async () => {
    const ship = join(base, 'usage-rollups');
    tarball(ship, '2024-06-05', 'u-1', {
      'job_host_summary.csv': `${[
        JHS_HEADER,
        row(1, '2024-06-05', 'h1', '20', '2024-06-05 09:00:00+00'),
        row(1, '2024-06-05', 'h1', '20', '2024-06-05 09:30:00+00'),
        row(2, '2024-06-05', 'h1', '21', '2024-06-05 08:00:00+00'),
        row(3, '2024-06-05', 'h1', '', ''),
        row(4, '2024-06-05', 'h2', '20', '2024-06-05 09:00:00+00', 't2', 'Org B'),
      ].join('\n')}\n`,
    });
    tarball(ship, '2024-06-06', 'u-1', {
      'job_host_summary.csv': `${[JHS_HEADER, row(5, '2024-06-06', 'h1', '22', '2024-06-06 07:00:00+00'), row(6, '2024-06-06', '', '22', '2024-06-06 07:00:00+00', '', '')].join('\n')}\n`,
    });
    // Job 20 again, from another controller: another job.
    tarball(ship, '2024-06-07', 'u-2', { 'job_host_summary.csv': `${JHS_HEADER}\n${row(7, '2024-06-07', 'h1', '20', '2024-06-07 06:00:00+00')}\n` });
    const storage = new DirectoryStorage({ base: ship });
    await rollup({ storage, since: june.firstDay, until: new Date('2024-07-01T00:00:00Z'), period: 'day', reachableOnly: false });
    const files = await usageFiles(ship, june.firstDay, new Date('2024-07-01T00:00:00Z'));
    expect(files.hosts).toHaveLength(3);
    expect(files.indirectRows).toBe(0);
    for (const organizationFilter of [undefined, ['Org A']]) {
      const raw = await snapshot({ ship, ...june, ...(organizationFilter ? { organizationFilter } : {}) });
      await using db = await openDuckDb();
      expect(await usageRollupsOverlap(db, files.jobs)).toBe(false);
      const { empty } = await usageFromRollups(db, files, organizationFilter);
      expect(empty).toBe(raw.empty);
      for (const t of [USAGE_TABLES.hosts, USAGE_TABLES.jobs]) {
        expect(await db.all(`SELECT * FROM ${t} ORDER BY ALL`), `${t} ${organizationFilter ?? 'all'}`).toEqual(raw.tables[t]);
      }
    }
  });

  it('the jobs file marks the jobs with a DIRECT row, and lists those of INDIRECT rows and events apart, whether or not the part has INDIRECT rows', async () => {
    const dir = mkdtempSync(join(base, 'jobs-file-'));
    await using db = await openDuckDb();
    const part = (name: string, rows: string) => {
      const path = join(dir, name);
      return db
        .run(
          `COPY (SELECT * FROM (VALUES ${rows}) AS r(organization_name, job_template_name, host_name, install_uuid, job_remote_id, task_runs, first_automation, last_automation, job_created, managed_node_type)) TO '${path}' (FORMAT parquet)`,
        )
        .then(() => path);
    };
    const at = "TIMESTAMP '2024-06-05 10:00:00'";
    const row = (o: string, h: string, j: number, type: number) => `('${o}', 't', '${h}', 'u', ${j}::BIGINT, 1::BIGINT, ${at}, ${at}, ${at}, ${type}::INTEGER)`;
    const events = join(dir, 'events.parquet');
    await db.run(`COPY (SELECT * FROM (VALUES ('u', 1::BIGINT), ('u', 7::BIGINT), ('v', 1::BIGINT)) AS e(install_uuid, job_remote_id)) TO '${events}' (FORMAT parquet)`);
    const jobsOf = async (jhs: string, withEvents: boolean) => {
      const out = { hosts: join(dir, 'hosts.parquet'), jobs: join(dir, 'jobs.parquet') };
      const written = await writeUsageRollup(db, jhs, out, withEvents ? events : undefined);
      const rows = await db.all(`SELECT o, t, u, j, direct FROM read_parquet('${out.jobs}') ORDER BY ALL`);
      expect(written.jobs).toBe(rows.length);
      return { rows, indirectRows: written.indirectRows };
    };
    const job = (o: string | null, u: string, j: number, direct: boolean) => ({ o, t: o === null ? null : 't', u, j: BigInt(j), direct });
    // DIRECT rows alone: every job of the part has one; the events' other jobs are listed apart.
    const plain = await part('plain.parquet', [row('A', 'h1', 1, 0), row('A', 'h2', 1, 0), row('B', 'h1', 2, 0)].join(', '));
    expect(await jobsOf(plain, false)).toEqual({ rows: [job('A', 'u', 1, true), job('B', 'u', 2, true)], indirectRows: 0 });
    expect(await jobsOf(plain, true)).toEqual({ rows: [job('A', 'u', 1, true), job('B', 'u', 2, true), job(null, 'u', 7, false), job(null, 'v', 1, false)], indirectRows: 0 });
    // Job 3 has INDIRECT rows alone, job 1 both kinds.
    const mixed = await part('mixed.parquet', [row('A', 'h1', 1, 0), row('A', 'h3', 1, 1), row('C', 'h4', 3, 1), row('C', 'h5', 3, 1)].join(', '));
    expect(await jobsOf(mixed, false)).toEqual({ rows: [job('A', 'u', 1, true), job(null, 'u', 3, false)], indirectRows: 3 });
    expect(await jobsOf(mixed, true)).toEqual({ rows: [job('A', 'u', 1, true), job(null, 'u', 3, false), job(null, 'u', 7, false), job(null, 'v', 1, false)], indirectRows: 3 });
  });

  it('a job delivered on two days makes the usage rollups overlap; INDIRECT rows are counted in the manifest', async () => {
    const ship = join(base, 'usage-edge');
    edgeCaseLake(ship);
    const until = new Date('2024-06-04T00:00:00Z');
    await rollup({ storage: new DirectoryStorage({ base: ship }), since: june.firstDay, until, period: 'day', reachableOnly: false });
    const files = await usageFiles(ship, june.firstDay, until);
    await using db = await openDuckDb();
    expect(await usageRollupsOverlap(db, files.jobs)).toBe(true);
    expect(await usageRollupsOverlap(db, files.jobs.slice(1))).toBe(false);
    expect(files.indirectRows).toBeGreaterThan(0);
  });
});
