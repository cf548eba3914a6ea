import { hostVariableSql, type JsonCheck } from '../host-variables.js';
import { inWindow, snapshotSqlCollector, windowedSqlCollector } from './sql-collector.js';

const FACTS = [
  'ansible_virtualization_type',
  'ansible_virtualization_role',
  'ansible_system_vendor',
  'ansible_product_name',
  'ansible_architecture',
  'ansible_processor',
  'ansible_form_factor',
  'ansible_bios_vendor',
  'ansible_bios_version',
  'ansible_board_serial',
];

function mainHostSql(check: JsonCheck, where: string): string {
  const port = hostVariableSql(check, 'main_host.variables', 'ansible_port');
  return `SELECT main_host.name AS host_name,
    main_host.id AS host_id,
    main_host.inventory_id AS inventory_remote_id,
    main_inventory.name AS inventory_name,
    main_inventory.organization_id AS organization_remote_id,
    main_organization.name AS organization_name,
    main_unifiedjob.created AS last_automation,
    ${hostVariableSql(check, 'main_host.variables', 'ansible_host')} AS ansible_host_variable,
    json_build_object(
      'ansible_product_serial', main_host.ansible_facts->>'ansible_product_serial',
      'ansible_machine_id', main_host.ansible_facts->>'ansible_machine_id',
      'ansible_host', ${hostVariableSql(check, 'main_host.variables', 'ansible_host')},
      'host_name', main_host.name,
      'ansible_port', CASE WHEN (${port}) ~ '^[0-9]+$' THEN (${port})::integer END
    ) AS canonical_facts,
    json_build_object(
      'ansible_connection_variable', ${hostVariableSql(check, 'main_host.variables', 'ansible_connection')},
      ${FACTS.map((f) => `'${f}', main_host.ansible_facts->>'${f}'`).join(',\n      ')}
    ) AS facts
  FROM main_host
  LEFT JOIN main_inventory ON main_inventory.id = main_host.inventory_id
  LEFT JOIN main_organization ON main_organization.id = main_inventory.organization_id
  LEFT JOIN main_unifiedjob ON main_unifiedjob.id = main_host.last_job_id
  WHERE ${where}
  ORDER BY main_host.id ASC`;
}

/** Section 1.5 `main_host`: every enabled host (a snapshot; no window). */
export const mainHost = snapshotSqlCollector(
  {
    key: 'main_host',
    version: '1.0',
    description: 'Enabled hosts with inventory, organization, last automation and canonical facts',
    slicing: 'limit',
    optional: true,
  },
  { hostVariables: true, sql: (check) => mainHostSql(check, `main_host.enabled = 't'`) },
);

/** Section 1.5 `main_host_daily`: enabled hosts created or modified in the window. */
export const mainHostDaily = windowedSqlCollector(
  {
    key: 'main_host_daily',
    version: '1.0',
    description: 'Enabled hosts created or modified in the window',
    slicing: 'daily',
    optional: true,
    windowColumn: 'main_host.created OR main_host.modified',
  },
  {
    hostVariables: true,
    sql: (check) => mainHostSql(check, `main_host.enabled = 't' AND (${inWindow('main_host.created')} OR ${inWindow('main_host.modified')})`),
  },
);
