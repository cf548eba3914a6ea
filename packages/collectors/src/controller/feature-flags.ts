import { snapshotSqlCollector } from './sql-collector.js';

/**
 * `feature_flags_service`: the enabled feature flags of the platform (a snapshot), from
 * django-ansible-base's `dab_feature_flags_aapflag` table in the controller database: a flag is
 * enabled when its condition is `boolean` and its value the text `True`. On a controller without
 * that table (before feature flags moved into the database) the COPY fails and gather records the
 * collector as failed, as the reference does (it has no fallback for this table).
 */
export const featureFlagsService = snapshotSqlCollector(
  {
    key: 'feature_flags_service',
    version: '1.4',
    description: 'Enabled feature flags (dab_feature_flags_aapflag)',
    slicing: 'limit',
    optional: true,
  },
  {
    sql: () => `SELECT name,
    condition,
    value,
    description,
    support_level,
    toggle_type,
    visibility
  FROM dab_feature_flags_aapflag
  WHERE condition = 'boolean' AND value = 'True'
  ORDER BY name ASC`,
  },
);
