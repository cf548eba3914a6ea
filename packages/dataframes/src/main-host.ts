import { ident, type TallyDuckDb } from './duckdb.js';
import { Dataframe, type Fold } from './dataframe.js';
import { jsonPairs, PAIRS_TYPE, setOf, str, unionLists } from './sql.js';
import type { Column } from './types.js';

/**
 * main_host / main_host_daily grouped by host_name, install_uuid: organizations, inventories,
 * serials (`{ansible_product_serial}/{ansible_machine_id}` of canonical_facts, when both set)
 * and host names as sets, canonical_facts/facts as JSON sets, last_automation max.
 */
export class MainHost extends Dataframe {
  readonly name = 'main_host';
  readonly members = ['main_host.csv', 'main_host_daily.csv', 'config.json'] as const;
  readonly indexColumns = ['host_name', 'install_uuid'] as const;
  readonly columns: readonly Column[] = [
    { name: 'host_name', type: 'VARCHAR' },
    { name: 'install_uuid', type: 'VARCHAR' },
    { name: 'organizations', type: 'VARCHAR[]' },
    { name: 'inventories', type: 'VARCHAR[]' },
    { name: 'canonical_facts', type: PAIRS_TYPE },
    { name: 'facts', type: PAIRS_TYPE },
    { name: 'last_automation', type: 'TIMESTAMP' },
    { name: 'serials', type: 'VARCHAR[]' },
    { name: 'host_names_before_dedup', type: 'VARCHAR[]' },
  ];
  constructor(db: TallyDuckDb) {
    super(db, db.tableName('main_host'));
  }

  /** main_host_daily.csv is read only from a tarball whose main_host.csv has no rows. */
  protected override exclusiveMembers(): readonly (readonly string[])[] {
    return [['main_host.csv', 'main_host_daily.csv']];
  }

  protected rawColumns(): readonly string[] {
    return ['host_name', 'inventory_name', 'organization_name', 'last_automation', 'ansible_host_variable', 'canonical_facts', 'facts'];
  }

  protected folds(): Record<string, Fold> {
    return {
      organizations: 'union',
      inventories: 'union',
      canonical_facts: 'union',
      facts: 'union',
      last_automation: 'max',
      serials: 'union',
      host_names_before_dedup: 'union',
    };
  }

  protected readonly preparedColumns: readonly Column[] = [
    { name: 'host_name', type: 'VARCHAR' },
    { name: 'install_uuid', type: 'VARCHAR' },
    { name: 'organization_name', type: 'VARCHAR' },
    { name: 'inventory_name', type: 'VARCHAR' },
    { name: 'cf', type: PAIRS_TYPE },
    { name: 'f', type: PAIRS_TYPE },
    { name: 'last_automation', type: 'TIMESTAMP' },
    { name: 'serial', type: 'VARCHAR' },
  ];

  protected prepareSql(member: string, src: string): string | undefined {
    if (member !== 'main_host.csv' && member !== 'main_host_daily.csv') return undefined;
    // A blank fact still makes a serial ('' is not null for the reference's compute_serial): only a missing or null one does not.
    const fact = (k: string) => `CASE WHEN json_valid("canonical_facts") THEN json_extract_string("canonical_facts", '$.${k}') END`;
    return (
      `SELECT COALESCE(${str('ansible_host_variable')}, ${str('host_name')}), CAST($2 AS VARCHAR), ` +
      `COALESCE(${str('organization_name')}, 'No organization name'), ${str('inventory_name')}, ` +
      `${jsonPairs('canonical_facts')}, ${jsonPairs('facts')}, ${ident('last_automation')}, ` +
      `${fact('ansible_product_serial')} || '/' || ${fact('ansible_machine_id')} FROM ${src}`
    );
  }

  /**
   * The "ccsp-experimental" dedup mapping, as metrics-utility's `DedupCCSP.df_to_mapping`: reading the
   * grouped rows in their order (host_name, install_uuid), each serial maps every host that has it to
   * the first host seen with it; a host with several serials takes the mapping of the last of them
   * (serials in order of first appearance; within one row in sorted order, where the reference's set
   * order is arbitrary). One hop: a target may itself be mapped. 'NA' and blank facts make serials
   * like any other here ('NA/NA', '/M1').
   * Hosts mapped to themselves are left out. Feed it to `regroup`.
   */
  async hostNameMapping(): Promise<Map<string, string>> {
    await this.group();
    const rows = await this.db.all<{ host_name: string; serials: string[] }>(
      `SELECT host_name, list_sort(serials) AS serials FROM ${ident(this.table)}
       WHERE host_name IS NOT NULL AND len(serials) > 0 ORDER BY host_name, install_uuid NULLS LAST`,
    );
    const hostsOf = new Map<string, Set<string>>();
    for (const r of rows) {
      for (const serial of r.serials) {
        if (!serial) continue;
        const hosts = hostsOf.get(serial) ?? new Set<string>([r.host_name]);
        hostsOf.set(serial, hosts.add(r.host_name));
      }
    }
    const mapping = new Map<string, string>();
    for (const hosts of hostsOf.values()) {
      const first = hosts.values().next().value!;
      for (const h of hosts) mapping.set(h, first);
    }
    for (const [h, target] of mapping) if (h === target) mapping.delete(h);
    return mapping;
  }

  protected aggregateSql(from: string): string {
    return (
      `SELECT host_name, install_uuid, ${setOf('organization_name')}, ${setOf('inventory_name')}, ` +
      `${unionLists('cf')}, ${unionLists('f')}, max(last_automation), ${setOf('serial')}, ` +
      `CASE WHEN host_name IS NULL THEN []::VARCHAR[] ELSE [host_name] END ` +
      `FROM ${from} GROUP BY host_name, install_uuid`
    );
  }
}
