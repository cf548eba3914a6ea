import { inWindow, windowedSqlCollector } from './sql-collector.js';

/**
 * Section 1.5 `main_indirectmanagednodeaudit`. The table exists only on newer
 * controllers: when it is missing the collector returns no files and a `skipped`
 * reason (and warns), which gather records as skipped rather than failed.
 */
export const mainIndirectManagedNodeAudit = windowedSqlCollector(
  {
    key: 'main_indirectmanagednodeaudit',
    version: '1.0',
    description: 'Indirectly managed nodes reported by collections, by creation time',
    slicing: 'daily',
    optional: true,
    windowColumn: 'main_indirectmanagednodeaudit.created',
  },
  {
    async precheck({ db, logger }) {
      const { rows } = await db.query<{ t: string | null }>(`SELECT to_regclass('main_indirectmanagednodeaudit')::text AS t`);
      if (rows[0]?.t) return undefined;
      const skipped = 'table main_indirectmanagednodeaudit does not exist on this controller (added in newer versions)';
      logger.warn(`main_indirectmanagednodeaudit skipped: ${skipped}`, { collector: 'main_indirectmanagednodeaudit' });
      return { format: 'csv', files: [], skipped };
    },
    sql: () => `SELECT main_indirectmanagednodeaudit.id,
    main_indirectmanagednodeaudit.created,
    main_indirectmanagednodeaudit.name AS host_name,
    main_indirectmanagednodeaudit.host_id AS host_remote_id,
    main_indirectmanagednodeaudit.canonical_facts,
    main_indirectmanagednodeaudit.facts,
    main_indirectmanagednodeaudit.events,
    main_indirectmanagednodeaudit.count AS task_runs,
    main_unifiedjob.created AS job_created,
    main_indirectmanagednodeaudit.job_id AS job_remote_id,
    main_unifiedjob.unified_job_template_id AS job_template_remote_id,
    main_unifiedjob.name AS job_template_name,
    main_inventory.id AS inventory_remote_id,
    main_inventory.name AS inventory_name,
    main_organization.id AS organization_remote_id,
    main_organization.name AS organization_name,
    main_unifiedjobtemplate_project.id AS project_remote_id,
    main_unifiedjobtemplate_project.name AS project_name
  FROM main_indirectmanagednodeaudit
  LEFT JOIN main_job ON main_job.unifiedjob_ptr_id = main_indirectmanagednodeaudit.job_id
  LEFT JOIN main_unifiedjob ON main_unifiedjob.id = main_indirectmanagednodeaudit.job_id
  LEFT JOIN main_inventory ON main_inventory.id = main_indirectmanagednodeaudit.inventory_id
  LEFT JOIN main_organization ON main_organization.id = main_unifiedjob.organization_id
  LEFT JOIN main_unifiedjobtemplate AS main_unifiedjobtemplate_project ON main_unifiedjobtemplate_project.id = main_job.project_id
  WHERE ${inWindow('main_indirectmanagednodeaudit.created')}
  ORDER BY main_indirectmanagednodeaudit.created ASC`,
  },
);
