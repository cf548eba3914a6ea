/**
 * Generate `days` daily tarballs of `rows` job_host_summary rows each (schema 1.2), and with
 * `--events N` N main_jobevent rows (schema 1.0) per job host summary, in the reference layout,
 * into a directory storage. Deterministic for a seed.
 *   node --import tsx tools/bench/gen-tarballs.ts --out DIR --days 30 --rows 200000 [--events 2] [--start 2024-03-01]
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { addDays } from '@tally/core';
import { tarballName, tarballStorageName, writeTarball } from '@tally/package';

const HEADER =
  'id,created,modified,host_name,host_remote_id,ansible_host_variable,ansible_connection_variable,changed,dark,failures,ok,processed,skipped,failed,ignored,rescued,job_created,job_remote_id,job_template_remote_id,job_template_name,inventory_remote_id,inventory_name,organization_remote_id,organization_name,project_remote_id,project_name';
const TEMPLATES = ['Patch servers', 'Deploy web app', 'Configure firewall', 'Rotate certificates', 'Backup databases'];
const UUID = '5b0f3a52-3c1e-4d5c-9a57-0c8d2a1e7f10';

/** xorshift32: fast, deterministic, good enough for synthetic data. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

const EVENT_HEADER =
  'main_jobhostsummary_id,main_jobhostsummary_created,id,created,modified,job_created,event,task_action,resolved_action,resolved_role,duration,failed,changed,playbook,play,task,role,job_remote_id,host_remote_id,host_name';

/**
 * What a task ran, as a controller records it (task_action, resolved_action, resolved_role, role):
 * FQCN and short module names, modules of no collection, collection and standalone roles,
 * include_role, a role name the reference does not count, unicode names.
 */
export const EVENT_CONTENT: readonly (readonly [string, string, string, string])[] = [
  ['ansible.builtin.copy', 'ansible.builtin.copy', '', ''],
  ['copy', 'ansible.builtin.copy', '', ''],
  ['shell', '', '', ''],
  ['my_custom_module', '', '', 'common'],
  ['community.general.ini_file', 'community.general.ini_file', '', 'geerlingguy.nginx'],
  ['include_role', 'ansible.builtin.include_role', 'redhat.rhel_system_roles.timesync', ''],
  ['ansible.builtin.include_role', 'ansible.builtin.include_role', 'geerlingguy.mysql', 'geerlingguy.mysql'],
  ['template', 'ansible.builtin.template', '', 'redhat.rhel_system_roles.network'],
  ['acmé.zürich.fichier', 'acmé.zürich.fichier', '', 'acmé.rôle'],
  ['模块', '', '', ''],
  ['cisco.ios.ios_config', 'cisco.ios.ios_config', 'cisco.ios.sub.role.deep', ''],
];

const ts = (d: Date) => `${d.toISOString().replace('T', ' ').slice(0, 23)}000+00`;

/** A buffered CSV file writer. */
function csvWriter(file: string, header: string) {
  const out = createWriteStream(file, { highWaterMark: 1 << 20 });
  let buf = `${header}\n`;
  return {
    async add(line: string): Promise<void> {
      buf += line;
      if (buf.length > 1 << 20) {
        if (!out.write(buf)) await once(out, 'drain');
        buf = '';
      }
    },
    async close(): Promise<void> {
      out.end(buf);
      await once(out, 'finish');
    },
  };
}

/** `n` event rows of one job host summary row (its id, host, job). */
function eventLines(n: number, jhs: { id: number; created: string; jobCreated: string; jobId: number; host: number; failed: boolean }, rand: () => number): string {
  let lines = '';
  for (let e = 0; e < n; e++) {
    const [action, resolved, resolvedRole, role] = EVENT_CONTENT[Math.floor(rand() * EVENT_CONTENT.length)]!;
    const duration = rand() < 0.03 ? '' : (rand() * 30).toFixed(6);
    const failed = jhs.failed && e === n - 1;
    const event = failed ? 'runner_on_failed' : 'runner_on_ok';
    const task = e % 5 === 0 ? '"Install ""nginx"", then start"' : `Task ${e + 1}`;
    lines += `${jhs.id},${jhs.created},${jhs.id * n + e},${jhs.created},${jhs.created},${jhs.jobCreated},${event},${action},${resolved},${resolvedRole},${duration},${failed ? 't' : 'f'},${rand() < 0.3 ? 't' : 'f'},site.yml,all,${task},${role},${jhs.jobId},${jhs.host + 1},host-${jhs.host}.example.com\n`;
  }
  return lines;
}

async function writeDay(
  files: { jhs: string; events?: string | undefined; eventsPerRow: number },
  day: Date,
  rows: number,
  hosts: number,
  orgs: number,
  startId: number,
  rand: () => number,
): Promise<void> {
  const out = csvWriter(files.jhs, HEADER);
  const events = files.events ? csvWriter(files.events, EVENT_HEADER) : undefined;
  const hostsPerJob = 40;
  let jobBase = 0;
  for (let i = 0; i < rows; i++) {
    const job = Math.floor(i / hostsPerJob);
    const jobId = Math.floor((startId - 1) / hostsPerJob) + job;
    const org = jobId % orgs;
    // As in the controller: a job's hosts are distinct (job_host_summary is unique on job and
    // host name) and job_created is the job's, one value for all its rows.
    if (i % hostsPerJob === 0) jobBase = Math.floor(rand() * hosts);
    const host = (jobBase + (i % hostsPerJob) * 499) % hosts;
    const created = new Date(day.getTime() + Math.floor((i / rows) * 86_399_000));
    const jobCreated = new Date(day.getTime() + Math.floor(((i - (i % hostsPerJob)) / rows) * 86_399_000) - 60_000);
    const ok = 1 + Math.floor(rand() * 20);
    const changed = Math.floor(rand() * ok);
    const failures = rand() < 0.05 ? 1 : 0;
    const dark = rand() < 0.02 ? 1 : 0;
    const ansibleHost = host % 7 === 0 ? `10.${(host >> 16) & 255}.${(host >> 8) & 255}.${host & 255}` : '';
    const tpl = jobId % TEMPLATES.length;
    await out.add(
      `${startId + i},${ts(created)},${ts(created)},host-${host}.example.com,${host + 1},${ansibleHost},ssh,${changed},${dark},${failures},${ok},1,${Math.floor(rand() * 3)},${failures ? 't' : 'f'},0,0,${ts(jobCreated)},${jobId},${tpl + 1},${TEMPLATES[tpl]},${org + 1},Inventory ${org + 1},${org + 1},Organization ${org + 1},${100 + tpl},Project ${tpl + 1}\n`,
    );
    await events?.add(eventLines(files.eventsPerRow, { id: startId + i, created: ts(created), jobCreated: ts(jobCreated), jobId, host, failed: failures > 0 }, rand));
  }
  await out.close();
  await events?.close();
}

export async function generateTarballs(opts: {
  out: string;
  days: number;
  rows: number;
  start: Date;
  hosts?: number;
  orgs?: number;
  /** main_jobevent rows per job host summary row (default 0: no main_jobevent.csv). */
  eventsPerRow?: number;
}): Promise<string[]> {
  const work = await mkdtemp(join(tmpdir(), 'tally-bench-gen-'));
  const rand = rng(42);
  const names: string[] = [];
  try {
    for (let d = 0; d < opts.days; d++) {
      const since = addDays(opts.start, d);
      const until = addDays(since, 1);
      const csv = join(work, 'job_host_summary.csv');
      const eventsPerRow = opts.eventsPerRow ?? 0;
      const eventsCsv = eventsPerRow > 0 ? join(work, 'main_jobevent.csv') : undefined;
      await writeDay({ jhs: csv, events: eventsCsv, eventsPerRow }, since, opts.rows, opts.hosts ?? 20_000, opts.orgs ?? 10, d * opts.rows + 1, rand);
      const name = tarballStorageName(tarballName(UUID, since, until, 0), since);
      const members = [
        { key: 'job_host_summary', format: 'csv' as const, version: '1.2', source: { file: csv } },
        ...(eventsCsv ? [{ key: 'main_jobevent', format: 'csv' as const, version: '1.0', source: { file: eventsCsv } }] : []),
      ];
      await writeTarball(
        join(opts.out, name),
        {
          members,
          config: { version: '1.0', source: { json: { install_uuid: UUID, platform: { system: 'Linux' }, billing_provider_params: {} } } },
          status: members.map((m) => ({ fileName: `${m.key}.csv`, status: 'ok' as const, since, until, startedAt: since, finishedAt: since })),
        },
        { mtime: until },
      );
      names.push(name);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return names;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, days: { type: 'string' }, rows: { type: 'string' }, events: { type: 'string' }, start: { type: 'string' } },
  });
  const names = await generateTarballs({
    out: values.out!,
    days: Number(values.days ?? 30),
    rows: Number(values.rows ?? 200_000),
    eventsPerRow: Number(values.events ?? 0),
    start: new Date(values.start ?? '2024-03-01T00:00:00Z'),
  });
  process.stdout.write(`${names.length} tarballs\n`);
}
