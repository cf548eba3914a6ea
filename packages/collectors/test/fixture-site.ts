import type pg from 'pg';

/** The window every windowed test uses: 2024-03-01, UTC. */
export const SINCE = new Date('2024-03-01T00:00:00Z');
export const UNTIL = new Date('2024-03-02T00:00:00Z');

/** JSON text with a `\u0000` escape: valid JSON, but rejected by a jsonb cast. */
export const NUL_JSON_VARIABLES = '{"ansible_host": "a\\u0000b"}';

/**
 * A tiny hand-written controller: enough rows to check every column, join, window
 * edge and variable format. Ids and times are chosen so expected rows can be written out.
 */
export async function insertFixtureSite(db: pg.ClientBase): Promise<void> {
  const q = (text: string, values: unknown[] = []) => db.query(text, values);
  await q(`INSERT INTO django_content_type (id, app_label, model) VALUES (1, 'main', 'job'), (2, 'main', 'projectupdate')`);
  await q(`INSERT INTO main_organization (id, created, modified, name) VALUES
    (1, '2023-01-01Z', '2023-01-01Z', 'Default'),
    (2, '2023-01-01Z', '2023-01-01Z', 'Org, "quoted"')`);
  await q(`INSERT INTO main_inventory (id, created, modified, name, organization_id) VALUES
    (1, '2023-01-01Z', '2023-01-01Z', 'Inv A', 1),
    (2, '2023-01-01Z', '2023-01-01Z', 'Inv B', 2)`);
  await q(`INSERT INTO main_unifiedjobtemplate (id, created, modified, name, polymorphic_ctype_id, organization_id) VALUES
    (1, '2023-01-01Z', '2023-01-01Z', 'Proj', 2, 1),
    (2, '2023-01-01Z', '2023-01-01Z', 'JT template name', 1, 1)`);
  await q(`INSERT INTO main_project (unifiedjobtemplate_ptr_id, scm_type, scm_url) VALUES (1, 'git', 'https://git.example.com/site.git')`);
  await q(`INSERT INTO main_executionenvironment (id, created, modified, description, image, managed, organization_id, name, pull) VALUES
    (1, '2023-01-01 00:00:00.5Z', '2023-02-01Z', 'default', 'quay.io/ansible/awx-ee:latest', true, NULL, 'AWX EE', 'missing')`);
  const hosts: [number, string, boolean, string, Record<string, unknown>, string][] = [
    [1, 'h1', true, '{"ansible_host": "10.0.0.1", "ansible_connection": "ssh", "ansible_port": 22}',
      { ansible_product_serial: 'SER1', ansible_machine_id: 'mid1', ansible_processor: ['0', 'GenuineIntel'] }, '2023-06-01Z'],
    [2, 'h2', true, 'ansible_host: 10.0.0.2\nansible_connection: winrm\nansible_port: "5986"\n', {}, '2024-03-01 08:00Z'],
    [3, 'h3', true, 'ansible_host="10.0.0.3"\nansible_port=abc', {}, '2023-06-01Z'],
    [4, 'h4', true, '{ansible_host: 10.0.0.4}', {}, '2023-06-01Z'],
    [5, 'h5', false, '{"ansible_host": "10.0.0.5"}', {}, '2024-03-01 09:00Z'],
    [6, 'h6', true, NUL_JSON_VARIABLES, {}, '2024-03-02 00:00Z'],
  ];
  for (const [id, name, enabled, variables, facts, modified] of hosts) {
    await q(
      `INSERT INTO main_host (id, created, modified, name, enabled, variables, inventory_id, ansible_facts)
       VALUES ($1, '2023-06-01Z', $2, $3, $4, $5, 1, $6)`,
      [id, modified, name, enabled, variables, JSON.stringify(facts)],
    );
  }
  // Job 10 finished inside the window; 11 finished exactly at `until`; 12 is a sync;
  // 13 was created in the window and is still running.
  await q(`INSERT INTO main_unifiedjob (id, created, modified, name, launch_type, status, failed, started, finished, elapsed,
      polymorphic_ctype_id, unified_job_template_id, organization_id, execution_environment_id, installed_collections,
      ansible_version, execution_node, controller_node) VALUES
    (10, '2024-03-01 10:00:00.123456Z', '2024-03-01 10:05Z', 'JT run', 'manual', 'successful', false, '2024-03-01 10:00:01Z',
      '2024-03-01 10:05:00Z', 299.5, 1, 2, 1, 1, '{"ansible.posix": {"version": "1.5.4"}}', '2.16.3', 'node1', 'ctl1'),
    (11, '2024-02-29 23:50:00Z', '2024-03-02Z', 'Late run', 'scheduled', 'failed', true, '2024-02-29 23:50:01Z',
      '2024-03-02 00:00:00Z', 600, 1, 2, 2, NULL, '{}', '2.15.0', 'node2', 'ctl1'),
    (12, '2024-03-01 11:00:00Z', '2024-03-01 11:01Z', 'Proj update', 'sync', 'successful', false, '2024-03-01 11:00:01Z',
      '2024-03-01 11:01:00Z', 59, 2, 1, 1, 1, '{}', '', '', ''),
    (13, '2024-03-01 23:59:59.999999Z', '2024-03-01 23:59:59.999999Z', 'Running', 'manual', 'running', false,
      '2024-03-01 23:59:59.999999Z', NULL, 0, 1, 2, 1, 1, '{}', '', 'node1', 'ctl1')`);
  await q(`INSERT INTO main_job (unifiedjob_ptr_id, playbook, forks, inventory_id, job_template_id, project_id) VALUES
    (10, 'site.yml', 5, 1, 2, 1), (11, 'site.yml', 10, 2, 2, 1), (13, 'site.yml', 5, 1, 2, 1)`);
  await q(`INSERT INTO main_jobhostsummary (id, created, modified, host_name, changed, dark, failures, ok, processed, skipped,
      failed, host_id, job_id, ignored, rescued) VALUES
    (100, '2024-03-01 00:00:00Z', '2024-03-01 00:00:00Z', 'h1', 1, 0, 0, 5, 1, 2, false, 1, 10, 0, 0),
    (101, '2024-03-01 12:00:00Z', '2024-03-01 12:00:00Z', 'h2', 0, 1, 0, 0, 1, 0, true, 2, 10, 0, 0),
    (102, '2024-03-02 00:00:00Z', '2024-03-02 00:00:00Z', 'h3', 2, 0, 1, 3, 1, 0, true, 3, 11, 1, 1),
    (103, '2024-03-01 13:00:00.123456Z', '2024-03-01 13:00:00.123456Z', 'h4', 0, 0, 0, 1, 1, 0, false, 4, 10, 0, 0),
    (104, '2024-03-01 14:00:00Z', '2024-03-01 14:00:00Z', 'gone', 0, 0, 0, 1, 1, 0, false, NULL, 10, 0, 0),
    (105, '2024-03-01 15:00:00Z', '2024-03-01 15:00:00Z', 'h6', 0, 0, 0, 1, 1, 0, false, 6, 10, 0, 0),
    (106, '2024-03-02 01:00:00Z', '2024-03-02 01:00:00Z', 'late-host', 0, 0, 0, 1, 1, 0, false, NULL, 10, 0, 0)`);
  await q(`UPDATE main_host SET last_job_id = 10 WHERE id = 1`);
  const events: [number, string, string, string, string, boolean, boolean][] = [
    [1000, 'runner_on_ok', 'h1', '10',
      '{"task_action": "command", "resolved_action": "ansible.builtin.command", "resolved_role": null, "duration": 1.5, "start": "2024-03-01T10:00:02+00:00", "end": "2024-03-01T10:00:03.5+00:00", "task_uuid": "t-1", "res": {"stdout": "a\\u0000b", "warnings": ["w1"]}}',
      false, true],
    [1001, 'runner_on_failed', 'h1', '10',
      '{"task_action": "caf\\u00e9", "resolved_action": "ns.coll.mod", "resolved_role": "ns.coll.role", "duration": 0.25, "ignore_errors": true}',
      true, false],
    [1002, 'playbook_on_start', '', '10', '{"playbook": "site.yml"}', false, false],
    [1003, 'runner_on_ok', 'h3', '11', '{"task_action": "ping"}', false, false],
    [1004, 'playbook_on_stats', '', '10', '{"changed": {"h1": 1}, "artifact_data": {"big": true}}', false, false],
    [1005, 'warning', '', '10', '{"warning": "deprecated option"}', false, false],
  ];
  for (const [id, event, host, job, data, failed, changed] of events) {
    await q(
      `INSERT INTO main_jobevent (id, created, modified, event, event_data, failed, changed, uuid, parent_uuid, playbook, play,
         role, task, counter, host_id, job_id, host_name, job_created)
       SELECT $1::bigint, '2024-03-01 10:00:02Z', '2024-03-01 10:00:02Z', $2::text, $3::text, $4::boolean, $5::boolean, 'u-' || $1::text, 'p-' || $1::text, 'site.yml',
         'all', '', 'Task ' || $1::text, 1, (SELECT id FROM main_host WHERE name = $6::text), $7::int, $6::text, uj.created
       FROM main_unifiedjob uj WHERE uj.id = $7::int`,
      [id, event, data, failed, changed, host, job],
    );
  }
  // A second, disabled `h1` in another inventory (added after the events, which look hosts up by name).
  await q(`INSERT INTO main_host (id, created, modified, name, enabled, variables, inventory_id, ansible_facts) VALUES
    (7, '2023-06-01Z', '2023-06-01Z', 'h1', false, 'ansible_host: 10.9.9.9\nansible_connection: local', 2, '{"ansible_machine_id": "mid7"}')`);
  // Automated in the window (h1, ghost: no inventory host, h6), deleted exactly at `since` (h2),
  // automated exactly at `until` (h3), deleted exactly at `until` (h4).
  await q(`INSERT INTO main_hostmetric (id, hostname, first_automation, last_automation, last_deleted, automated_counter,
      deleted_counter, deleted, used_in_inventories) VALUES
    (1, 'h1', '2023-06-01Z', '2024-03-01 10:05Z', NULL, 7, 0, false, 2),
    (2, 'h2', '2023-06-01Z', '2024-02-20Z', '2024-03-01 00:00Z', 3, 1, true, NULL),
    (3, 'ghost', '2023-06-01Z', '2024-03-01 23:59:59.999999Z', NULL, 1, 0, false, NULL),
    (4, 'h3', '2023-06-01Z', '2024-03-02 00:00Z', NULL, 4, 0, false, 1),
    (5, 'h4', '2023-06-01Z', '2024-02-29 23:59:59Z', '2024-03-02 00:00Z', 5, 2, true, 0),
    (6, 'h6', '2023-06-01Z', '2024-03-01 12:00Z', NULL, 2, 0, false, 1)`);
  // Two credentials of type 1 on job 10 (one job), type 1 and 2 on the sync job 12 (finished in the window too);
  // type 2 on job 11 (finished exactly at `until`) and type 1 on the running job 13 do not count; type 4 has none.
  await q(`INSERT INTO main_credentialtype (id, created, modified, name, kind, managed, inputs) VALUES
    (1, '2023-01-01Z', '2023-01-01Z', 'Machine', 'ssh', true, '{"fields": [{"id": "password", "secret": true}]}'),
    (2, '2023-01-01Z', '2023-01-01Z', 'Source Control', 'scm', true, '{}'),
    (3, '2023-01-01Z', '2023-01-01Z', 'Custom Vault', 'cloud', false, '{}'),
    (4, '2023-01-01Z', '2023-01-01Z', 'Amazon Web Services', 'cloud', true, '{}')`);
  await q(`INSERT INTO main_credential (id, created, modified, name, inputs, credential_type_id, organization_id) VALUES
    (1, '2023-01-01Z', '2023-01-01Z', 'm1', '{"username": "admin", "password": "$encrypted$s3cr3t-m1"}', 1, 1),
    (2, '2023-01-01Z', '2023-01-01Z', 'm2', '{"password": "$encrypted$s3cr3t-m2"}', 1, 1),
    (3, '2023-01-01Z', '2023-01-01Z', 'git', '{"ssh_key_data": "$encrypted$s3cr3t-key"}', 2, 1),
    (4, '2023-01-01Z', '2023-01-01Z', 'vault', '{"token": "$encrypted$s3cr3t-token"}', 3, 2)`);
  await q(`INSERT INTO main_unifiedjob_credentials (unifiedjob_id, credential_id) VALUES
    (10, 1), (10, 2), (10, 4), (11, 3), (12, 2), (12, 3), (13, 1)`);
  await q(`INSERT INTO main_indirectmanagednodeaudit (id, created, name, canonical_facts, facts, events, count, host_id,
      inventory_id, job_id, organization_id) VALUES
    (1, '2024-03-01 00:00:00Z', 'vm-1', '{"host_name": "vm-1"}', '{"device_type": "vm"}', '["vmware.vmware.vm_info"]', 3, NULL, 1, 10, 1),
    (2, '2024-03-02 00:00:00Z', 'vm-2', '{}', '{}', '[]', 1, NULL, 2, 11, 2)`);
  // Enabled: condition 'boolean' with value exactly 'True' (Z_FLAG, A_FLAG); not: 'False', lowercase 'true',
  // and a non-boolean condition whose value is 'True'.
  await q(`INSERT INTO dab_feature_flags_aapflag (id, modified, created, name, ui_name, condition, value, required, support_level,
      visibility, toggle_type, description, support_url, labels) VALUES
    (1, '2024-01-01Z', '2024-01-01Z', 'Z_FLAG', 'Z', 'boolean', 'True', false, 'TECHNOLOGY_PREVIEW', true, 'run-time',
      'Parses events, reports "resources"', 'https://example.invalid/z', '["controller"]'),
    (2, '2024-01-01Z', '2024-01-01Z', 'OFF_FLAG', 'Off', 'boolean', 'False', false, 'TECHNOLOGY_PREVIEW', false, 'install-time', '', '', '[]'),
    (3, '2024-01-01Z', '2024-01-01Z', 'LOWER_FLAG', 'Lower', 'boolean', 'true', false, 'DEVELOPER_PREVIEW', true, 'run-time', '', '', '[]'),
    (4, '2024-01-01Z', '2024-01-01Z', 'RATIO_FLAG', 'Ratio', 'percentage', 'True', false, 'DEVELOPER_PREVIEW', true, 'run-time', '', '', '[]'),
    (5, '2024-01-01Z', '2024-01-01Z', 'A_FLAG', 'A', 'boolean', 'True', true, 'GENERALLY_AVAILABLE', false, 'install-time', '', '', '[]')`);
  // Started in [since, until) with a collector type: 1 (exactly at since), 2 (not completed), 3, and 8 (a JSON null
  // type, which SQL's IS NOT NULL keeps). Out: 4 (started at until), 5 (before since), 6 (no type), 7 (no result).
  await q(`INSERT INTO tasks_taskexecution (id, started_at, completed_at, result_data) VALUES
    (1, '2024-03-01 00:00:00Z', '2024-03-01 00:00:04.5Z', '{"collector_type": "unified_jobs", "rows": 3}'),
    (2, '2024-03-01 01:00:00Z', NULL, '{"collector_type": "unified_jobs"}'),
    (3, '2024-03-01 02:00:00Z', '2024-03-01 02:00:01Z', '{"collector_type": "execution_environments"}'),
    (4, '2024-03-02 00:00:00Z', '2024-03-02 00:00:01Z', '{"collector_type": "unified_jobs"}'),
    (5, '2024-02-29 23:59:59.999999Z', '2024-03-01 00:00:01Z', '{"collector_type": "unified_jobs"}'),
    (6, '2024-03-01 03:00:00Z', '2024-03-01 03:00:01Z', '{"status": "ok"}'),
    (7, '2024-03-01 04:00:00Z', '2024-03-01 04:00:01Z', NULL),
    (8, '2024-03-01 05:00:00Z', '2024-03-01 05:00:01Z', '{"collector_type": null}')`);
  const setting = (key: string, value: unknown, user: number | null = null) =>
    q(`INSERT INTO conf_setting (created, modified, key, value, user_id) VALUES ('2023-01-01Z', '2023-01-01Z', $1, $2, $3)`, [
      key,
      value === undefined ? null : JSON.stringify(value),
      user,
    ]);
  await setting('INSTALL_UUID', '00000000-aaaa-4bbb-8ccc-000000000001');
  await setting('SYSTEM_UUID', '00000000-aaaa-4bbb-8ccc-000000000002');
  await setting('TOWER_URL_BASE', 'https://controller.example.com');
  await setting('AUTHENTICATION_BACKENDS', ['awx.main.backends.AWXModelBackend']);
  await setting('LOG_AGGREGATOR_ENABLED', false);
  await setting('LOG_AGGREGATOR_LOGGERS', ['awx', 'job_events']);
  await setting('LOG_AGGREGATOR_TYPE', null);
  await setting('PENDO_TRACKING_STATE', 'off');
  await setting('SUBSCRIPTION_USAGE_MODEL', '');
  await setting('LICENSE', {
    license_type: 'enterprise',
    instance_count: 100,
    time_remaining: 86400,
    subscription_name: 'AAP',
    valid_key: true,
    license_date: 1735689600,
  });
  await setting('TOWER_URL_BASE', 'https://per-user.example.com', 7);
  await setting('UNRELATED', 'x');
  await q(`INSERT INTO main_instance (uuid, hostname, created, modified, version, last_seen, enabled) VALUES
    ('u1', 'a', '2023-01-01Z', '2023-01-01Z', '4.5.0', '2024-03-01Z', true),
    ('u2', 'b', '2023-01-01Z', '2023-01-01Z', '4.6.2', '2024-03-05Z', true),
    ('u3', 'c', '2023-01-01Z', '2023-01-01Z', '9.9.9', '2024-03-09Z', false),
    ('u4', 'd', '2023-01-01Z', '2023-01-01Z', '', '2024-03-10Z', true),
    ('u5', 'e', '2023-01-01Z', '2023-01-01Z', '4.5.0', '2024-02-01Z', true),
    ('u6', 'f', '2023-01-01Z', '2023-01-01Z', '4.10.0', '2024-02-01Z', true)`);
}
