import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { anonymizedRollup } from '@tally/dataframes';
import { extractAll } from '@tally/extractors';
import { DirectoryStorage } from '@tally/storage';
import { AUDIT_HEADER, writeTarball } from '@tally/testkit';
import { afterAll, describe, expect, it } from 'vitest';

// The headers Tally's gather writes (packages/collectors/src/controller/*.ts).
const UJ = 'id,polymorphic_ctype_id,model,organization_id,organization_name,execution_environment_image,inventory_id,inventory_name,execution_environment_id,created,name,unified_job_template_id,launch_type,schedule_id,execution_node,controller_node,cancel_flag,status,failed,started,finished,elapsed,job_explanation,instance_group_id,installed_collections,ansible_version,forks,job_template_name,scm_type';
const JHS = 'id,created,modified,host_name,host_remote_id,changed,dark,failures,ok,processed,skipped,failed,ignored,rescued,job_created,job_remote_id,job_template_remote_id,job_template_name,ansible_version,launch_type,inventory_remote_id,inventory_name,organization_remote_id,organization_name,project_remote_id,project_name,model';
const CRED = 'id,name,credential_type,managed,credential_count,used_by_finished_job_count';

const q = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
function csv(header: string, rows: Record<string, string>[]): string {
  const cols = header.split(',');
  return `${header}\n${rows.map((r) => cols.map((c) => q(r[c] ?? '')).join(',')).join('\n')}\n`;
}
const t = (hms: string) => `2024-03-10 ${hms}+00`;
const posix = JSON.stringify({ 'ansible.posix': { version: '1.5.4' } });
const job = (o: Record<string, string>) => ({ organization_name: 'A', launch_type: 'manual', failed: 'f', ...o });
const audit = (rows: [string, string[], string][]) =>
  `${AUDIT_HEADER}\n${rows.map(([h, events, org]) => `${t('09:00:00')},${h},{},{},${q(JSON.stringify(events))},1,${t('08:00:00')},1,T,${org}`).join('\n')}\n`;
const host = (o: Record<string, string>) => ({ dark: '0', failures: '0', ok: '0', skipped: '0', ignored: '0', rescued: '0', model: 'job', ...o });

const dir = mkdtempSync(join(tmpdir(), 'tally-anon-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Batch 0 and 1 are the hourly/daily files the reference prepares one by one and merges; the
// snapshot tarball (2) replaces tarball 0's execution environments (snapshots: the last wins).
writeTarball(dir, '2024-03-10', {
  'unified_jobs.csv': csv(UJ, [
    job({ id: '1', model: 'job', inventory_id: '10', unified_job_template_id: '100', created: t('10:00:00'), started: t('10:00:05.5'), finished: t('10:01:05.5'), ansible_version: '2.15.1', forks: '5', scm_type: 'git', installed_collections: JSON.stringify({ 'ansible.posix': { version: '1.5.4' }, 'my.private': { version: '1.0.0' } }) }),
    job({ id: '2', model: 'job', organization_name: 'B', inventory_id: '11', unified_job_template_id: '101', launch_type: 'scheduled', failed: 't', created: t('11:00:00'), started: t('11:00:01'), finished: t('11:00:31.25'), ansible_version: '2.15.1', forks: '10', installed_collections: posix }),
    job({ id: '3', model: 'projectupdate', unified_job_template_id: '200', created: t('12:00:00'), finished: t('12:00:10') }),
    job({ id: '4', model: 'job', failed: 't', created: t('12:30:00'), started: t('12:30:01') }), // not finished: dropped
  ]),
  'job_host_summary_service.csv': csv(JHS, [
    host({ host_remote_id: '501', job_remote_id: '1', ok: '3', skipped: '1', launch_type: 'manual', ansible_version: '2.15.1' }),
    host({ host_remote_id: '502', job_remote_id: '1', dark: '1', failures: '1', launch_type: 'manual', ansible_version: '2.15.1' }),
    host({ host_remote_id: '501', job_remote_id: '2', failures: '2', ok: '1', ignored: '1', rescued: '1', launch_type: 'scheduled', ansible_version: '2.15.1' }),
  ]),
  'credentials_service.csv': csv(CRED, [{ id: '1', credential_type: 'Machine' }, { id: '2', credential_type: 'Source Control' }]),
  'execution_environments.csv': 'id,managed\n1,f\n',
  'main_indirectmanagednodeaudit.csv': audit([
    ['ind1', ['cisco.ios.ios_command', 'cisco.ios.ios_config'], 'O1'],
    ['ind2', ['cisco.ios.ios_command', 'my.private.thing'], 'O2'],
    ['ind3', [], 'O1'],
  ]),
}, { index: 0 });
writeTarball(dir, '2024-03-10', {
  'unified_jobs.csv': csv(UJ, [
    job({ id: '5', model: 'job', organization_name: 'C', inventory_id: '10', unified_job_template_id: '100', created: t('13:00:00'), started: t('13:00:02'), finished: t('13:00:12'), ansible_version: '2.16.0', forks: '1', scm_type: 'svn', installed_collections: JSON.stringify({ 'ansible.posix': { version: '1.5.4' }, 'community.general': { version: '' } }) }),
  ]),
  'job_host_summary_service.csv': csv(JHS, [
    host({ host_remote_id: '503', job_remote_id: '5', ok: '2', launch_type: 'manual', ansible_version: '2.16.0' }),
    host({ host_remote_id: '501', job_remote_id: '5', ok: '1', skipped: '2', launch_type: 'manual', ansible_version: '2.16.0' }),
  ]),
  'credentials_service.csv': csv(CRED, [{ id: '1', credential_type: 'Machine' }, { id: '3', credential_type: 'Vault' }]),
  'main_indirectmanagednodeaudit.csv': audit([['ind1', ['cisco.ios.ios_command'], 'O2'], ['ind4', ['vyos.vyos.vyos_facts', 'badname'], 'O1']]),
}, { index: 1 });
writeTarball(dir, '2024-03-10', {
  'execution_environments.csv': 'id,managed\n1,t\n2,t\n3,f\n',
  'table_metadata.csv': 'schemaname,tablename,estimated_row_count,total_size_bytes,table_size_bytes,indexes_size_bytes\npublic,main_unifiedjob,10,8192,4096,4096\n',
  'controller_version_service.csv': 'controller_version\n4.6.0\n',
  'feature_flags_service.csv': 'name,condition,value\nFEATURE_X,boolean,True\n',
  'task_executions_service.csv': `started_at,completed_at,collector_type
${t('00:00:00')},${t('00:01:00')},"""unified_jobs"""
${t('01:00:00')},${t('01:02:00')},"""unified_jobs"""
${t('02:00:00')},,"""table_metadata"""
${t('03:00:00')},${t('03:00:05')},"""feature_flags_service"""
`,
}, { index: 2 });

async function payload() {
  const storage = new DirectoryStorage({ base: dir });
  const tarballs = await extractAll({ storage, since: new Date('2024-03-10T00:00:00Z'), until: new Date('2024-03-11T00:00:00Z') });
  try {
    return await anonymizedRollup(tarballs, { knownCollections: ['ansible.posix', 'community.general', 'cisco.ios'] });
  } finally {
    for (const tb of tarballs) await tb.release();
  }
}

// Every expected value below is derived by hand from the reference's code: jobs_anonymized_rollup
// (prepare per tarball: groupby drops NaN keys; durations finished−started, waits started−created;
// merge sums counts per key and unites template/inventory/version lists), jobhostsummary (host
// outcome: dark>0 unreachable, else failures>0 failed, else successful; summed per job, then per
// key), and anonymized_rollups.flatten_json_report / anonymize_data.
describe('anonymizedRollup (newest metrics-utility anonymize_rollups)', async () => {
  const p = await payload();
  const zeroHosts = { unreachable_total: 0, failed_total: 0, ok_total: 0, skipped_total: 0, ignored_total: 0, rescued_total: 0, successful_hosts_total: 0, failed_hosts_total: 0, unreachable_hosts_total: 0 };

  it('jobs_by_job_type: jobs 1,2 (batch 0) and 5 (batch 1) merged; job host fields by job type', () => {
    expect(p.jobs_by_job_type).toEqual([
      {
        job_type: 'job', jobs_total: 3, jobs_failed_total: 1, jobs_successful_total: 2, jobs_never_started_total: 0,
        job_duration_maximum_seconds: 60, job_duration_minimum_seconds: 10, jobs_duration_total_seconds: 100.25,
        jobs_successful_duration_total_seconds: 70, jobs_failed_duration_total_seconds: 30.25,
        job_waiting_time_maximum_seconds: 5.5, job_waiting_time_minimum_seconds: 1, job_waiting_time_total_seconds: 8.5,
        templates_total: 2, inventories_total: 2, ansible_versions: ['2.15.1', '2.16.0'], is_automation: true,
        // ok 3+0+1 (batch 0) + 2+1 (batch 1); dark 1 (host 502, job 1); failures 1+2 (jobs 1, 2).
        unreachable_total: 1, failed_total: 3, ok_total: 7, skipped_total: 3, ignored_total: 1, rescued_total: 1,
        successful_hosts_total: 3, failed_hosts_total: 1, unreachable_hosts_total: 1, controller_version: '4.6.0',
      },
      {
        // job 3: never started, so no duration or wait (NaN: max/min null, sums 0); no inventory.
        job_type: 'projectupdate', jobs_total: 1, jobs_failed_total: 0, jobs_successful_total: 1, jobs_never_started_total: 1,
        job_duration_maximum_seconds: null, job_duration_minimum_seconds: null, jobs_duration_total_seconds: 0,
        jobs_successful_duration_total_seconds: 0, jobs_failed_duration_total_seconds: 0,
        job_waiting_time_maximum_seconds: null, job_waiting_time_minimum_seconds: null, job_waiting_time_total_seconds: 0,
        templates_total: 1, inventories_total: 0, ansible_versions: [], is_automation: false, ...zeroHosts, controller_version: '4.6.0',
      },
    ]);
  });

  it('jobs_by_launch_type and jobs_by_ansible_version', () => {
    const manual = p.jobs_by_launch_type.find((i) => i.launch_type === 'manual');
    // jobs 1, 3 and 5; host rows of jobs 1 and 5.
    expect(manual).toMatchObject({
      jobs_total: 3, jobs_failed_total: 0, jobs_successful_total: 3, jobs_never_started_total: 1, jobs_duration_total_seconds: 70,
      job_duration_maximum_seconds: 60, job_duration_minimum_seconds: 10, job_waiting_time_total_seconds: 7.5,
      templates_total: 2, inventories_total: 1, ansible_versions: ['2.15.1', '2.16.0'],
      ok_total: 6, skipped_total: 3, ignored_total: 0, unreachable_total: 1, failed_total: 1, successful_hosts_total: 3, failed_hosts_total: 0, unreachable_hosts_total: 1,
    });
    expect(manual).not.toHaveProperty('job_types');
    expect(p.jobs_by_launch_type.map((i) => i.launch_type)).toEqual(['manual', 'scheduled']);
    expect(p.jobs_by_launch_type[1]).toMatchObject({ jobs_total: 1, jobs_failed_total: 1, ok_total: 1, failed_total: 2, unreachable_total: 0, ignored_total: 1, rescued_total: 1, failed_hosts_total: 1 });
    // job 3's empty ansible_version is NaN: no group.
    expect(p.jobs_by_ansible_version.map((i) => [i.ansible_version, i.jobs_total, i.ok_total, i.failed_total, i.unreachable_total, i.successful_hosts_total])).toEqual([
      ['2.15.1', 2, 4, 3, 1, 1],
      ['2.16.0', 1, 3, 0, 0, 2],
    ]);
  });

  it('jobs_by_controller_version: one item over every finished job, with the first controller version', () => {
    expect(p.jobs_by_controller_version).toEqual([{
      jobs_total: 4, jobs_failed_total: 1, jobs_successful_total: 3, jobs_never_started_total: 1,
      job_duration_maximum_seconds: 60, job_duration_minimum_seconds: 10, jobs_duration_total_seconds: 100.25,
      jobs_successful_duration_total_seconds: 70, jobs_failed_duration_total_seconds: 30.25,
      job_waiting_time_maximum_seconds: 5.5, job_waiting_time_minimum_seconds: 1, job_waiting_time_total_seconds: 8.5,
      templates_total: 3, inventories_total: 2, ansible_versions: ['2.15.1', '2.16.0'], controller_version: '4.6.0',
    }]);
  });

  it('installed collections: only known ones; an empty version is no entry', () => {
    expect(p.jobs_by_installed_collections_versions).toEqual([{
      collection: 'ansible.posix', version: '1.5.4', jobs_total: 3, jobs_failed_total: 1, jobs_successful_total: 2, jobs_never_started_total: 0,
      jobs_duration_total_seconds: 100.25, jobs_successful_duration_total_seconds: 70, jobs_failed_duration_total_seconds: 30.25,
      job_duration_maximum_seconds: 60, job_duration_minimum_seconds: 10, job_waiting_time_total_seconds: 8.5,
      job_waiting_time_maximum_seconds: 5.5, job_waiting_time_minimum_seconds: 1, templates_total: 2, inventories_total: 2,
      ansible_versions: ['2.15.1', '2.16.0'],
    }]);
  });

  it('statistics', () => {
    expect(p.statistics).toEqual({
      rollup_period_execution_environments_total: 3, rollup_period_EE_default_total: 2, rollup_period_EE_custom_total: 1,
      rollup_period_jobs_total: 4, rollup_period_jobs_successful: 3, rollup_period_jobs_failed: 1,
      rollup_period_jobs_duration_all_statuses_seconds: 100.25, rollup_period_jobs_successful_duration_total_seconds: 70,
      rollup_period_jobs_failed_duration_total_seconds: 30.25, rollup_period_organizations_total: 3, rollup_period_forks_total: 16,
      rollup_period_templates_total: 3, rollup_period_inventories_total: 2,
      rollup_period_unique_hosts_total: 3, rollup_period_job_host_pairs_total: 5,
      rollup_period_successful_hosts_total: 3, rollup_period_failed_hosts_total: 1, rollup_period_unreachable_hosts_total: 1,
      rollup_period_indirect_managed_nodes_all_total: 4, // ind1..ind4

      // ok 7 + failed 3 + skipped 3 + unreachable 1 + ignored 1 (rescued is not a task total).
      rollup_period_tasks_total: 15, rollup_period_task_ok_total: 7, rollup_period_task_failed_total: 3,
      rollup_period_task_skipped_total: 3, rollup_period_task_unreachable_total: 1, rollup_period_task_ignored_total: 1,
    });
  });

  it('lists and snapshots', () => {
    expect(p.rollup_period_ansible_versions).toEqual(['2.15.1', '2.16.0']);
    expect(p.rollup_period_scm_types).toEqual(['git', 'svn']);
    expect(p.rollup_period_credential_types).toEqual(['Machine', 'Source Control', 'Vault']);
    expect(p.table_metadata).toEqual({
      main_unifiedjob_estimated_row_count: 10, main_unifiedjob_total_size_bytes: 8192, main_unifiedjob_table_size_bytes: 4096, main_unifiedjob_indexes_size_bytes: 4096,
    });
    expect(p.controller_versions).toEqual(['4.6.0']);
    expect(p.feature_flags).toEqual(['FEATURE_X']);
    expect(p).not.toHaveProperty('module_stats');
  });

  it('observability_by_tasks: runs per collector type, missing of 24 (hourly) or 1 (snapshot), durations of finished runs', () => {
    expect(p.observability_by_tasks).toEqual([
      { collector_type: 'feature_flags_service', executions_total: 1, executions_missing_total: 0, execution_duration_total_seconds: 5, execution_duration_minimum_seconds: 5, execution_duration_maximum_seconds: 5 },
      { collector_type: 'table_metadata', executions_total: 1, executions_missing_total: 0, execution_duration_total_seconds: null, execution_duration_minimum_seconds: null, execution_duration_maximum_seconds: null },
      { collector_type: 'unified_jobs', executions_total: 2, executions_missing_total: 22, execution_duration_total_seconds: 180, execution_duration_minimum_seconds: 60, execution_duration_maximum_seconds: 120 },
    ]);
  });

  it('indirect nodes: hosts per collection and module over both batches and every org; only known collections', () => {
    // cisco.ios: ind1 (O1, O2) and ind2; my.private, vyos.vyos and the sentinels are dropped.
    expect(p.indirect_nodes_by_collection).toEqual([{ collection: 'cisco.ios', host_count: 2 }]);
    expect(p.indirect_nodes_by_module).toEqual([
      { module: 'cisco.ios.ios_command', host_count: 2 },
      { module: 'cisco.ios.ios_config', host_count: 1 },
    ]);
  });
});

describe('anonymizedRollup with no input', () => {
  it('gives the reference payload of an empty day', async () => {
    const p = await anonymizedRollup([], { knownCollections: [] });
    expect(p.statistics.rollup_period_jobs_total).toBe(0);
    expect(p.statistics.rollup_period_execution_environments_total).toBe(0);
    expect(p.statistics.rollup_period_job_host_pairs_total).toBe(0);
    expect(p.jobs_by_job_type).toEqual([]);
    expect(p.controller_versions).toEqual([]);
  });
});
