import { ConfigError, ENV } from '@tally/core';
import type { ReportPeriod } from './build.js';
import type { CcspDeduplicator } from './deduplicator.js';

/** Everything a workbook shows that does not come from the data (METRICS_UTILITY_REPORT_* and friends). */
export interface ReportParams {
  /** `YYYY-MM`, or `YYYY-MM-DD, YYYY-MM-DD` for a range. */
  reportPeriod: string;
  pricePerNode: number;
  sku: string;
  skuDescription: string;
  h1Heading: string;
  companyName: string;
  email: string;
  rhnLogin: string;
  poNumber: string;
  companyBusinessLeader: string;
  companyProcurementLeader: string;
  endUserCompanyName: string;
  endUserCity: string;
  endUserState: string;
  endUserCountry: string;
  /** METRICS_UTILITY_OPTIONAL_CCSP_REPORT_SHEETS (default: DEFAULT_SHEETS). */
  sheets: readonly string[];
  /** METRICS_UTILITY_ORGANIZATION_FILTER (CCSPv2). */
  organizationFilter?: readonly string[] | undefined;
  /** The run date shown as `Updated: …` (default now). */
  now: Date;
  /** The period the data should cover (Data collection status); set by buildCcspReport. */
  period?: ReportPeriod | undefined;
  /** METRICS_UTILITY_DEDUPLICATOR (default `ccsp`; see `deduplicatorFor`): buildCcspReport applies it. */
  deduplicator?: CcspDeduplicator | undefined;
}

export const DEFAULT_SHEETS = [
  'ccsp_summary',
  'managed_nodes',
  'usage_by_organizations',
  'usage_by_collections',
  'usage_by_roles',
  'usage_by_modules',
] as const;

export function reportParams(p: Partial<ReportParams> & { reportPeriod: string }): ReportParams {
  return {
    pricePerNode: 0,
    sku: '',
    skuDescription: '',
    h1Heading: '',
    companyName: '',
    email: '',
    rhnLogin: '',
    poNumber: '',
    companyBusinessLeader: '',
    companyProcurementLeader: '',
    endUserCompanyName: '',
    endUserCity: '',
    endUserState: '',
    endUserCountry: '',
    sheets: DEFAULT_SHEETS,
    now: new Date(),
    ...p,
  };
}

/** Refuses a price no bill can show: NaN or an infinity would be an empty (or broken) price cell, a negative one a credit. */
export function checkPrice(p: Pick<ReportParams, 'pricePerNode'>): void {
  if (!Number.isFinite(p.pricePerNode) || p.pricePerNode < 0) throw new ConfigError(`pricePerNode ${p.pricePerNode} is not a finite number of 0 or more`, { field: ENV.pricePerNode.env });
}
