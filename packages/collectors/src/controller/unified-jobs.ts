import { inWindow, snapshotSqlCollector, windowedSqlCollector } from './sql-collector.js';

/**
 * `unified_jobs` as the newest reference: every unified job (syncs included) that finished
 * in the window, with its execution environment id and its project's `scm_type`.
 */
export const unifiedJobs = windowedSqlCollector(
  {
    key: 'unified_jobs',
    version: '1.4',
    description: 'Unified jobs finished in the window',
    slicing: 'daily',
    optional: true,
    windowColumn: 'main_unifiedjob.finished',
  },
  {
    sql: () => `SELECT main_unifiedjob.id,
    main_unifiedjob.polymorphic_ctype_id,
    django_content_type.model,
    main_unifiedjob.organization_id,
    main_organization.name AS organization_name,
    main_executionenvironment.image AS execution_environment_image,
    main_job.inventory_id,
    main_inventory.name AS inventory_name,
    main_unifiedjob.execution_environment_id,
    main_unifiedjob.created,
    main_unifiedjob.name,
    main_unifiedjob.unified_job_template_id,
    main_unifiedjob.launch_type,
    main_unifiedjob.schedule_id,
    main_unifiedjob.execution_node,
    main_unifiedjob.controller_node,
    main_unifiedjob.cancel_flag,
    main_unifiedjob.status,
    main_unifiedjob.failed,
    main_unifiedjob.started,
    main_unifiedjob.finished,
    main_unifiedjob.elapsed,
    main_unifiedjob.job_explanation,
    main_unifiedjob.instance_group_id,
    main_unifiedjob.installed_collections,
    main_unifiedjob.ansible_version,
    main_job.forks,
    mut.name AS job_template_name,
    main_project.scm_type
  FROM main_unifiedjob
  LEFT JOIN django_content_type ON main_unifiedjob.polymorphic_ctype_id = django_content_type.id
  LEFT JOIN main_job ON main_unifiedjob.id = main_job.unifiedjob_ptr_id
  LEFT JOIN main_inventory ON main_job.inventory_id = main_inventory.id
  LEFT JOIN main_organization ON main_organization.id = main_unifiedjob.organization_id
  LEFT JOIN main_executionenvironment ON main_executionenvironment.id = main_unifiedjob.execution_environment_id
  LEFT JOIN main_project ON main_job.project_id = main_project.unifiedjobtemplate_ptr_id
  LEFT JOIN main_unifiedjobtemplate AS mut ON mut.id = main_unifiedjob.unified_job_template_id
  WHERE ${inWindow('main_unifiedjob.finished')}
  ORDER BY main_unifiedjob.id ASC`,
  },
);

/**
 * Section 1.5 `execution_environments`: the whole table (no window). A snapshot, as
 * the newest reference's `until_slicing`: gather takes it once per run, at `until − 1 s`.
 */
export const executionEnvironments = snapshotSqlCollector(
  {
    key: 'execution_environments',
    version: '1.4',
    description: 'All execution environments',
    slicing: 'limit',
    optional: true,
  },
  {
    sql: () => `SELECT id, created, modified, description, image, managed, created_by_id, credential_id,
    modified_by_id, organization_id, name, pull
  FROM main_executionenvironment
  ORDER BY id ASC`,
  },
);
