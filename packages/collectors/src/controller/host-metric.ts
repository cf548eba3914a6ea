import { hostVariableSql } from '../host-variables.js';
import { inWindow, windowedSqlCollector } from './sql-collector.js';

/**
 * `main_hostmetric`: host metrics automated or deleted in the window, each joined to
 * every inventory host of that name (none: host_id 0, the host columns empty).
 */
export const mainHostMetric = windowedSqlCollector(
  {
    key: 'main_hostmetric',
    version: '1.0',
    description: 'Host metrics (first/last automation, deletions) automated or deleted in the window, per inventory host',
    slicing: 'daily',
    optional: true,
    windowColumn: 'main_hostmetric.last_automation OR main_hostmetric.last_deleted',
  },
  {
    hostVariables: true,
    sql: (check) => `SELECT main_hostmetric.hostname,
    COALESCE(main_host.id, 0) AS host_id,
    main_hostmetric.first_automation,
    main_hostmetric.last_automation,
    main_hostmetric.automated_counter,
    main_hostmetric.deleted_counter,
    main_hostmetric.last_deleted,
    main_hostmetric.deleted,
    main_hostmetric.id,
    main_hostmetric.used_in_inventories,
    main_host.ansible_facts->>'ansible_product_serial' AS ansible_product_serial,
    main_host.ansible_facts->>'ansible_machine_id' AS ansible_machine_id,
    ${hostVariableSql(check, 'main_host.variables', 'ansible_host')} AS ansible_host_variable,
    ${hostVariableSql(check, 'main_host.variables', 'ansible_connection')} AS ansible_connection_variable
  FROM main_hostmetric
  LEFT JOIN main_host ON main_host.name = main_hostmetric.hostname
  WHERE (${inWindow('main_hostmetric.last_automation')} OR ${inWindow('main_hostmetric.last_deleted')})
  ORDER BY main_hostmetric.hostname ASC, COALESCE(main_host.id, 0) ASC`,
  },
);
