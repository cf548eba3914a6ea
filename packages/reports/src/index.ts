export {
  type BuildCcspOptions,
  type BuildResult,
  buildCcspReport,
  type CcspFromDataframesOptions,
  type CcspType,
  REPORT_MEMORY_LIMIT,
  type ReportDataframes,
  type ReportPeriod,
  type ReportSink,
  type ReportTarget,
  writeCcspFromDataframes,
} from './build.js';
export { type AuditInput, auditName, type ReportAudit, type VerifyResult, verifyReport } from './audit.js';
export { DEFAULT_SHEETS, type ReportParams, reportParams } from './params.js';
export type { HostMetricRecord, TimeMicros } from './renewal-dedup.js';
export { type RenewalDedupOptions, type RenewalDeduplicator, type RenewalNode, renewalNodes } from './renewal-nodes.js';
export { type CcspDeduplicator, DEDUPLICATORS, type Deduplicator, deduplicatorFor } from './deduplicator.js';
export { type BuildRenewalOptions, buildRenewalReport, readHostMetrics, type RenewalSummary } from './renewal.js';
export { readWorkbook } from './sheet.js';
export { VALID_SHEETS, validateSheets } from './sheet-selection.js';
export { type PeriodCoverage, periodCoverage } from './coverage.js';
