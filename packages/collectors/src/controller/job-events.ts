import { inWindow, windowedSqlCollector } from './sql-collector.js';

/**
 * `event_data` (text) as jsonb. Every `\u` is first turned into `\u005cu` so that
 * escapes such as `\u0000`, which jsonb rejects, survive as literal text (as in the reference).
 */
const EVENT_DATA = `replace(e.event_data, '\\u', '\\u005cu')::jsonb`;

const HOST_EVENTS = [
  'runner_on_ok',
  'runner_on_failed',
  'runner_on_unreachable',
  'runner_on_skipped',
  'runner_retry',
  'runner_on_async_ok',
  'runner_item_on_ok',
  'runner_item_on_failed',
  'runner_item_on_skipped',
];

/** Section 1.5 `main_jobevent`: host events of the summaries modified in the window. */
export const mainJobEvent = windowedSqlCollector(
  {
    key: 'main_jobevent',
    version: '1.0',
    description: 'Task-level host events (modules, collections, roles) of the job host summaries in the window',
    slicing: 'daily',
    optional: true,
    windowColumn: 'main_jobhostsummary.modified',
  },
  {
    // Both CTEs are materialised so the window is resolved first (on main_jobhostsummary.modified)
    // and events are fetched per job through (job_id, job_created), whatever the statistics say.
    sql: () => `WITH job_scope AS MATERIALIZED (
    SELECT main_jobhostsummary.id AS main_jobhostsummary_id,
      main_jobhostsummary.created AS main_jobhostsummary_created,
      main_jobhostsummary.modified AS main_jobhostsummary_modified,
      main_unifiedjob.created AS job_created,
      main_jobhostsummary.job_id AS job_id,
      main_jobhostsummary.host_name
    FROM main_jobhostsummary
    JOIN main_unifiedjob ON main_unifiedjob.id = main_jobhostsummary.job_id
    WHERE ${inWindow('main_jobhostsummary.modified')}
  ),
  scope_jobs AS MATERIALIZED (
    SELECT DISTINCT job_id, job_created FROM job_scope
  )
  SELECT job_scope.main_jobhostsummary_id,
    job_scope.main_jobhostsummary_created,
    e.id,
    e.created,
    e.modified,
    e.job_created AS job_created,
    e.event,
    ed.d->>'task_action' AS task_action,
    ed.d->>'resolved_action' AS resolved_action,
    ed.d->>'resolved_role' AS resolved_role,
    ed.d->>'duration' AS duration,
    e.failed,
    e.changed,
    e.playbook,
    e.play,
    e.task,
    e.role,
    e.job_id AS job_remote_id,
    e.host_id AS host_remote_id,
    e.host_name AS host_name
  FROM scope_jobs
  JOIN main_jobevent e ON e.job_id = scope_jobs.job_id AND e.job_created = scope_jobs.job_created
  JOIN job_scope ON job_scope.job_created = e.job_created
    AND job_scope.job_id = e.job_id
    AND job_scope.host_name = e.host_name
  CROSS JOIN LATERAL (SELECT ${EVENT_DATA} AS d) ed
  WHERE e.event IN (${HOST_EVENTS.map((x) => `'${x}'`).join(', ')})`,
  },
);

/** The events the newest reference's main_jobevent_service keeps: task results and job annotations. */
const SERVICE_EVENTS = [
  'runner_on_ok',
  'runner_on_async_ok',
  'runner_item_on_ok',
  'runner_on_failed',
  'runner_on_async_failed',
  'runner_item_on_failed',
  'runner_on_unreachable',
  'runner_item_on_unreachable',
  'warning',
  'deprecated',
];

/**
 * Section 1.5 `main_jobevent_service`, with the newest reference's event filter and
 * ansible_version: the task-result and annotation events of the jobs that finished in the
 * window. The reference first fetched the job list and pasted it into the SQL as literals;
 * here the list stays a CTE joined on (job_id, job_created), with its created range as extra
 * bounds so partitions of main_jobevent are pruned at run time. No finished job → a
 * header-only CSV (the reference returned None).
 */
export const mainJobEventService = windowedSqlCollector(
  {
    key: 'main_jobevent_service',
    version: '1.4',
    description: 'Task-result and annotation events of the jobs that finished in the window',
    slicing: 'daily',
    optional: true,
    windowColumn: 'main_unifiedjob.finished',
  },
  {
    sql: () => `WITH jobs AS (
    SELECT main_unifiedjob.id, main_unifiedjob.created
    FROM main_unifiedjob
    WHERE main_unifiedjob.finished IS NOT NULL AND ${inWindow('main_unifiedjob.finished')}
  )
  SELECT e.id,
    e.created,
    e.modified,
    e.job_created,
    uj.finished AS job_finished,
    uj.ansible_version,
    e.uuid,
    e.parent_uuid,
    e.event,
    ed.d->>'task_action' AS task_action,
    ed.d->>'resolved_action' AS resolved_action,
    ed.d->>'resolved_role' AS resolved_role,
    ed.d->>'duration' AS duration,
    (ed.d->>'start')::timestamptz AS start,
    (ed.d->>'end')::timestamptz AS "end",
    ed.d->>'task_uuid' AS task_uuid,
    COALESCE((ed.d->>'ignore_errors')::boolean, false) AS ignore_errors,
    e.failed,
    e.changed,
    e.playbook,
    e.play,
    e.task,
    e.role,
    e.job_id AS job_remote_id,
    e.job_id,
    e.host_id AS host_remote_id,
    e.host_id,
    e.host_name,
    ed.d->'res'->'warnings' AS warnings,
    ed.d->'res'->'deprecations' AS deprecations,
    CASE WHEN e.event = 'playbook_on_stats' THEN ed.d - 'artifact_data' END AS playbook_on_stats,
    uj.failed AS job_failed,
    uj.started AS job_started
  FROM main_jobevent e
  JOIN jobs ON jobs.id = e.job_id AND jobs.created = e.job_created
  LEFT JOIN main_unifiedjob uj ON uj.id = e.job_id
  CROSS JOIN LATERAL (SELECT ${EVENT_DATA} AS d) ed
  WHERE e.job_created >= (SELECT min(created) FROM jobs)
    AND e.job_created <= (SELECT max(created) FROM jobs)
    AND e.event IN (${SERVICE_EVENTS.map((x) => `'${x}'`).join(', ')})`,
  },
);
