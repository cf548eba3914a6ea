import { snapshotSqlCollector } from './sql-collector.js';

/** One regular table's row: live rows from the statistics, sizes from the catalog. */
function regularTable(name: 'main_unifiedjob' | 'main_jobhostsummary'): string {
  return `SELECT 'public'::text AS schemaname,
    '${name}'::text AS tablename,
    COALESCE(st.n_live_tup, 0)::bigint AS estimated_row_count,
    pg_total_relation_size(c.oid)::bigint AS total_size_bytes,
    pg_relation_size(c.oid)::bigint AS table_size_bytes,
    pg_indexes_size(c.oid)::bigint AS indexes_size_bytes
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
  LEFT JOIN pg_stat_user_tables st ON st.relid = c.oid
  WHERE c.relname = '${name}' AND c.relkind = 'r'`;
}

/**
 * `table_metadata`: estimated live rows and sizes (total, heap, indexes) of main_jobevent
 * (summed over its partitions), main_unifiedjob and main_jobhostsummary in schema public.
 * Catalog and statistics views only: no table is scanned. A table that is missing (or
 * main_jobevent when not partitioned) has no row.
 */
export const tableMetadata = snapshotSqlCollector(
  {
    key: 'table_metadata',
    version: '1.4',
    description: 'Estimated rows and sizes of main_jobevent, main_unifiedjob and main_jobhostsummary',
    slicing: 'limit',
    optional: true,
  },
  {
    sql: () => `SELECT 'public'::text AS schemaname,
    'main_jobevent'::text AS tablename,
    COALESCE(SUM(st.n_live_tup), 0)::bigint AS estimated_row_count,
    COALESCE(SUM(pg_total_relation_size(p.oid)), 0)::bigint AS total_size_bytes,
    COALESCE(SUM(pg_relation_size(p.oid)), 0)::bigint AS table_size_bytes,
    COALESCE(SUM(pg_indexes_size(p.oid)), 0)::bigint AS indexes_size_bytes
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
  LEFT JOIN pg_inherits inh ON inh.inhparent = c.oid
  LEFT JOIN pg_class p ON p.oid = inh.inhrelid AND p.relkind = 'r'
  LEFT JOIN pg_stat_user_tables st ON st.relid = p.oid
  WHERE c.relname = 'main_jobevent' AND c.relkind = 'p'
  GROUP BY c.oid, c.relname
  UNION ALL
  ${regularTable('main_unifiedjob')}
  UNION ALL
  ${regularTable('main_jobhostsummary')}`,
  },
);
