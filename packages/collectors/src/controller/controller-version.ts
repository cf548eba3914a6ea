import { snapshotSqlCollector } from './sql-collector.js';

/** `controller_version_service`: the distinct versions of the enabled instances (a snapshot). */
export const controllerVersionService = snapshotSqlCollector(
  {
    key: 'controller_version_service',
    version: '1.4',
    description: 'Distinct controller versions of the enabled instances',
    slicing: 'limit',
    optional: true,
  },
  {
    sql: () => `SELECT DISTINCT version AS controller_version
  FROM main_instance
  WHERE enabled = true AND version IS NOT NULL AND version != ''
  ORDER BY version ASC`,
  },
);
