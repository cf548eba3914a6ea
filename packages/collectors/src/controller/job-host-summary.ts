import { hostVariableSql, type JsonCheck } from '../host-variables.js';
import { inWindow, windowedSqlCollector } from './sql-collector.js';

/** The per-host `ansible_host` / `ansible_connection` columns of hosts_variables. */
function hostsVariablesSelect(check: JsonCheck, hostIds: string): string {
  return `SELECT ${hostIds}.host_id,
      ${hostVariableSql(check, 'main_host.variables', 'ansible_host')} AS ansible_host_variable,
      ${hostVariableSql(check, 'main_host.variables', 'ansible_connection')} AS ansible_connection_variable
    FROM ${hostIds}
    LEFT JOIN main_host ON main_host.id = ${hostIds}.host_id`;
}

/**
 * Summaries whose host was deleted (host_id NULL) take the variables of a host
 * of the same name in any inventory, as the newest reference does. Where the
 * reference joins every such host (one output row per match), the host with the
 * highest id is taken, so each summary row is written exactly once. The names
 * come from their own scan of the window (`host_id IS NULL` can use the controller's
 * host_id index): folding them into filtered_hosts hid its size from the planner.
 */
function namedHostsVariables(check: JsonCheck): string {
  return `orphan_names AS (
    SELECT DISTINCT main_jobhostsummary.host_name
    FROM main_jobhostsummary
    WHERE main_jobhostsummary.host_id IS NULL AND ${inWindow('main_jobhostsummary.modified')}
  ),
  named_hosts AS (
    SELECT DISTINCT ON (main_host.name) main_host.name AS host_name, main_host.variables
    FROM orphan_names
    JOIN main_host ON main_host.name = orphan_names.host_name
    ORDER BY main_host.name, main_host.id DESC
  ),
  named_variables AS (
    SELECT named_hosts.host_name,
      ${hostVariableSql(check, 'named_hosts.variables', 'ansible_host')} AS ansible_host_variable,
      ${hostVariableSql(check, 'named_hosts.variables', 'ansible_connection')} AS ansible_connection_variable
    FROM named_hosts
  )`;
}

/** Section 1.5 `job_host_summary`: summaries modified in the window. */
export const jobHostSummary = windowedSqlCollector(
  {
    key: 'job_host_summary',
    version: '1.2',
    description: 'Host summaries of jobs (one row per job and host), by modification time',
    slicing: 'daily',
    windowColumn: 'main_jobhostsummary.modified',
  },
  {
    hostVariables: true,
    sql: (check) => `WITH filtered_hosts AS (
    SELECT DISTINCT main_jobhostsummary.host_id
    FROM main_jobhostsummary
    WHERE ${inWindow('main_jobhostsummary.modified')}
  ),
  hosts_variables AS (
    ${hostsVariablesSelect(check, 'filtered_hosts')}
  ),
  ${namedHostsVariables(check)}
  SELECT main_jobhostsummary.id,
    main_jobhostsummary.created,
    main_jobhostsummary.modified,
    main_jobhostsummary.host_name,
    main_jobhostsummary.host_id AS host_remote_id,
    COALESCE(hosts_variables.ansible_host_variable, named_variables.ansible_host_variable) AS ansible_host_variable,
    COALESCE(hosts_variables.ansible_connection_variable, named_variables.ansible_connection_variable) AS ansible_connection_variable,
    main_jobhostsummary.changed,
    main_jobhostsummary.dark,
    main_jobhostsummary.failures,
    main_jobhostsummary.ok,
    main_jobhostsummary.processed,
    main_jobhostsummary.skipped,
    main_jobhostsummary.failed,
    main_jobhostsummary.ignored,
    main_jobhostsummary.rescued,
    main_unifiedjob.created AS job_created,
    main_jobhostsummary.job_id AS job_remote_id,
    main_unifiedjob.unified_job_template_id AS job_template_remote_id,
    main_unifiedjob.name AS job_template_name,
    main_inventory.id AS inventory_remote_id,
    main_inventory.name AS inventory_name,
    main_organization.id AS organization_remote_id,
    main_organization.name AS organization_name,
    main_unifiedjobtemplate_project.id AS project_remote_id,
    main_unifiedjobtemplate_project.name AS project_name
  FROM main_jobhostsummary
  LEFT JOIN main_job ON main_jobhostsummary.job_id = main_job.unifiedjob_ptr_id
  LEFT JOIN main_unifiedjobtemplate AS main_unifiedjobtemplate_project ON main_unifiedjobtemplate_project.id = main_job.project_id
  LEFT JOIN main_inventory ON main_inventory.id = main_job.inventory_id
  LEFT JOIN main_unifiedjob ON main_unifiedjob.id = main_jobhostsummary.job_id
  LEFT JOIN main_organization ON main_organization.id = main_unifiedjob.organization_id
  LEFT JOIN hosts_variables ON hosts_variables.host_id = main_jobhostsummary.host_id
  -- two equality joins rather than the reference's OR condition, which cannot be hash-joined;
  -- a summary with a host_id has a NULL key here, so it never probes named_variables
  LEFT JOIN named_variables ON named_variables.host_name = CASE WHEN main_jobhostsummary.host_id IS NULL THEN main_jobhostsummary.host_name END
  WHERE ${inWindow('main_jobhostsummary.modified')}
  ORDER BY main_jobhostsummary.modified ASC`,
  },
);

/**
 * `job_host_summary_service` as the newest reference: summaries of jobs that finished in the
 * window, with the job template's name, the job's ansible_version, launch_type and model
 * (no host variables: the reference's service reads a read-only replica).
 */
export const jobHostSummaryService = windowedSqlCollector(
  {
    key: 'job_host_summary_service',
    version: '1.4',
    description: 'Host summaries of jobs that finished in the window',
    slicing: 'daily',
    optional: true,
    windowColumn: 'main_unifiedjob.finished',
  },
  {
    sql: () => `WITH filtered_jobs AS (
    SELECT mu.id
    FROM main_unifiedjob mu
    WHERE ${inWindow('mu.finished')} AND mu.finished IS NOT NULL
  )
  SELECT mjs.id,
    mjs.created,
    mjs.modified,
    mjs.host_name,
    mjs.host_id AS host_remote_id,
    mjs.changed,
    mjs.dark,
    mjs.failures,
    mjs.ok,
    mjs.processed,
    mjs.skipped,
    mjs.failed,
    mjs.ignored,
    mjs.rescued,
    mu.created AS job_created,
    mjs.job_id AS job_remote_id,
    mu.unified_job_template_id AS job_template_remote_id,
    mut.name AS job_template_name,
    mu.ansible_version,
    mu.launch_type,
    mi.id AS inventory_remote_id,
    mi.name AS inventory_name,
    mo.id AS organization_remote_id,
    mo.name AS organization_name,
    mup.id AS project_remote_id,
    mup.name AS project_name,
    dct.model AS model
  FROM filtered_jobs fj
  JOIN main_jobhostsummary mjs ON mjs.job_id = fj.id
  LEFT JOIN main_job mj ON mjs.job_id = mj.unifiedjob_ptr_id
  LEFT JOIN main_unifiedjob mu ON mu.id = mjs.job_id
  LEFT JOIN django_content_type dct ON mu.polymorphic_ctype_id = dct.id
  LEFT JOIN main_unifiedjobtemplate AS mut ON mut.id = mu.unified_job_template_id
  LEFT JOIN main_unifiedjobtemplate AS mup ON mup.id = mj.project_id
  LEFT JOIN main_inventory mi ON mi.id = mj.inventory_id
  LEFT JOIN main_organization mo ON mo.id = mu.organization_id
  ORDER BY mu.finished ASC, mjs.id ASC`,
  },
);
