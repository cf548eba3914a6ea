import { ConfigError, ENV } from '@tally/core';
import type { RenewalDeduplicator } from './renewal-nodes.js';

/** METRICS_UTILITY_DEDUPLICATOR's values: the reference's five and Tally's `renewal-closure`. */
export const DEDUPLICATORS = ['ccsp', 'ccsp-experimental', 'renewal', 'renewal-hostname', 'renewal-experimental', 'renewal-closure'] as const;
export type Deduplicator = (typeof DEDUPLICATORS)[number];
export type CcspDeduplicator = Extract<Deduplicator, 'ccsp' | 'ccsp-experimental'>;

const CCSP_TYPES = new Set(['CCSP', 'CCSPv2']);

/**
 * The deduplicator a report of `reportType` runs: `value` (METRICS_UTILITY_DEDUPLICATOR), or the
 * type's default when unset — `ccsp` for CCSP/CCSPv2, `renewal` for RENEWAL_GUIDANCE. A value the
 * reference does not know, or one that does not fit the report type, is refused (a ConfigError,
 * exit 2) with the reference's message; where the reference has none (it fails later on a missing
 * dataframe: `ccsp` for RENEWAL_GUIDANCE, `renewal` for CCSP) the message follows the same pattern.
 */
export function deduplicatorFor(reportType: 'CCSP' | 'CCSPv2', value: string | undefined): CcspDeduplicator;
export function deduplicatorFor(reportType: 'RENEWAL_GUIDANCE', value: string | undefined): RenewalDeduplicator;
export function deduplicatorFor(reportType: string, value: string | undefined): Deduplicator;
export function deduplicatorFor(reportType: string, value: string | undefined): Deduplicator {
  const ccsp = CCSP_TYPES.has(reportType);
  if (!ccsp && reportType !== 'RENEWAL_GUIDANCE') throw refuse(`Unknown report type: ${reportType}`);
  if (value === undefined || value === '') return ccsp ? 'ccsp' : 'renewal';
  if (!(DEDUPLICATORS as readonly string[]).includes(value)) throw refuse(`Factory for ${value} not supported`);
  const mode = value as Deduplicator;
  if (mode === 'ccsp-experimental' && !ccsp) throw refuse(`Unknown report type: ${reportType}`);
  if (mode === 'ccsp' && !ccsp) throw refuse(`ccsp only supports CCSP, CCSPv2, got: ${reportType}`);
  if (mode.startsWith('renewal') && ccsp) throw refuse(`${mode} only supports RENEWAL_GUIDANCE, got: ${reportType}`);
  return mode;
}

const refuse = (message: string) => new ConfigError(message, { field: ENV.deduplicator.env });
