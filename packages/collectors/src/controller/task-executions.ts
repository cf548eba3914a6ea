import { inWindow, windowedSqlCollector } from './sql-collector.js';

/**
 * `task_executions_service`: the metrics-service's collector task executions started in the
 * window that name a collector type. `tasks_taskexecution` is the metrics-service's own table; the
 * reference's gather reads it through the controller connection, so it is read here from the
 * controller database too, and fails (recorded as failed by gather) where that table is absent.
 * `collector_type` is the jsonb value (`->`, not `->>`), so a string keeps its JSON quotes.
 */
export const taskExecutionsService = windowedSqlCollector(
  {
    key: 'task_executions_service',
    version: '1.0',
    description: 'Collector task executions of the metrics service started in the window',
    slicing: 'daily',
    optional: true,
    windowColumn: 'tasks_taskexecution.started_at',
  },
  {
    // The reference orders by collector_type only; started_at then completed_at break its ties so
    // equal inputs give equal files (an order the reference may also produce).
    sql: () => `SELECT started_at,
    completed_at,
    result_data->'collector_type' AS collector_type
  FROM tasks_taskexecution
  WHERE result_data->'collector_type' IS NOT NULL
    AND ${inWindow('started_at')}
  ORDER BY collector_type, started_at, completed_at`,
  },
);
