import { ConfigError } from '@tally/core';

/** METRICS_UTILITY_OPTIONAL_CCSP_REPORT_SHEETS names each report type accepts (the newest reference's validation). */
export const VALID_SHEETS = {
  CCSPv2: [
    'ccsp_summary',
    'jobs',
    'managed_nodes',
    'indirectly_managed_nodes',
    'inventory_scope',
    'infrastructure_summary',
    'usage_by_organizations',
    'usage_by_collections',
    'usage_by_roles',
    'usage_by_modules',
    'data_collection_status',
    'managed_nodes_by_organizations',
  ],
  CCSP: [
    'ccsp_summary',
    'managed_nodes',
    'indirectly_managed_nodes',
    'inventory_scope',
    'infrastructure_summary',
    'usage_by_collections',
    'usage_by_roles',
    'usage_by_modules',
    'usage_by_organizations',
    'managed_nodes_by_organizations',
  ],
} as const;

/**
 * Refuse names the report type does not know, or an empty list, with the reference's message (exit code 2).
 * CCSP (v1) accepts infrastructure_summary, usage_by_organizations and
 * managed_nodes_by_organizations (the newest validation) but, as the reference, draws no such sheets.
 */
export function validateSheets(type: keyof typeof VALID_SHEETS, sheets: readonly string[]): void {
  const valid: readonly string[] = VALID_SHEETS[type];
  if (sheets.length === 0) {
    // The reference reads an empty value as [''] and refuses it the same way.
    throw new ConfigError(`Invalid METRICS_UTILITY_OPTIONAL_CCSP_REPORT_SHEETS for ${type}: it is empty. Valid values: ${valid.join(', ')}`, {
      field: 'METRICS_UTILITY_OPTIONAL_CCSP_REPORT_SHEETS',
    });
  }
  const invalid = [...new Set(sheets)].filter((s) => !valid.includes(s));
  if (invalid.length === 0) return;
  throw new ConfigError(
    `Invalid METRICS_UTILITY_OPTIONAL_CCSP_REPORT_SHEETS for ${type}: ${invalid.join(', ')}. Valid values: ${valid.join(', ')}`,
    { field: 'METRICS_UTILITY_OPTIONAL_CCSP_REPORT_SHEETS' },
  );
}

/**
 * What a workbook reads from the tarballs, from its selected sheets (the reference's CSV_SHEETS;
 * see the README for where Tally differs). data_collection_status.csv is always read: `tally
 * report` warns about collection gaps whatever the sheets.
 */
export interface SheetInputs {
  /** job_host_summary.csv, else main_indirectmanagednodeaudit.csv, per tarball. */
  jobHostSummary: boolean;
  mainJobevent: boolean;
  /** main_host.csv, else main_host_daily.csv, per tarball. */
  mainHost: boolean;
}

const EVENT_SHEETS = ['usage_by_collections', 'usage_by_roles', 'usage_by_modules'];
/** Every sheet but Inventory Scope and Data collection status counts job host summaries (events name their hosts through them). */
const NO_JHS_SHEETS = ['inventory_scope', 'data_collection_status'];

/** `deduplicator` ccsp-experimental reads main_host whatever the sheets: its serials merge the hosts. */
export function sheetInputs(sheets: readonly string[], deduplicator?: string): SheetInputs {
  return {
    jobHostSummary: sheets.some((n) => !NO_JHS_SHEETS.includes(n)),
    mainJobevent: sheets.some((n) => EVENT_SHEETS.includes(n)),
    mainHost: sheets.includes('inventory_scope') || deduplicator === 'ccsp-experimental',
  };
}
