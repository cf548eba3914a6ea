import { inWindow, windowedSqlCollector } from './sql-collector.js';

/**
 * `credentials_service`: per credential type, how many credentials it has (whatever the
 * window) and how many distinct jobs finished in the window used one. Reads credential
 * type ids, names and `managed` only; never a credential's `inputs` (its secrets).
 */
export const credentialsService = windowedSqlCollector(
  {
    key: 'credentials_service',
    version: '1.4',
    description: 'Credential types with their credential count and the jobs finished in the window that used them',
    slicing: 'daily',
    optional: true,
    windowColumn: 'main_unifiedjob.finished',
  },
  {
    // The reference leaves the row order to the plan; ordered by type id here so equal inputs give equal files.
    sql: () => `WITH credential_counts AS (
    SELECT main_credential.credential_type_id, COUNT(*) AS credential_count
    FROM main_credential
    GROUP BY main_credential.credential_type_id
  ),
  used_by_finished_jobs AS (
    SELECT main_credential.credential_type_id, COUNT(DISTINCT main_unifiedjob.id) AS used_by_finished_job_count
    FROM main_unifiedjob_credentials
    JOIN main_unifiedjob ON main_unifiedjob.id = main_unifiedjob_credentials.unifiedjob_id
    JOIN main_credential ON main_credential.id = main_unifiedjob_credentials.credential_id
    WHERE ${inWindow('main_unifiedjob.finished')}
    GROUP BY main_credential.credential_type_id
  )
  SELECT main_credentialtype.id,
    main_credentialtype.name,
    main_credentialtype.name AS credential_type,
    main_credentialtype.managed,
    COALESCE(credential_counts.credential_count, 0) AS credential_count,
    COALESCE(used_by_finished_jobs.used_by_finished_job_count, 0) AS used_by_finished_job_count
  FROM main_credentialtype
  LEFT JOIN credential_counts ON credential_counts.credential_type_id = main_credentialtype.id
  LEFT JOIN used_by_finished_jobs ON used_by_finished_jobs.credential_type_id = main_credentialtype.id
  ORDER BY main_credentialtype.id ASC`,
  },
);
