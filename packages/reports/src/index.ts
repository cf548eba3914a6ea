export {
  buildCcspReport,
  type BuildCcspOptions,
  type BuildResult,
  type CcspFromDataframesOptions,
  type CcspType,
  REPORT_MEMORY_LIMIT,
  type ReportDataframes,
  type ReportPeriod,
  type ReportSink,
  reportTarget,
  type ReportTarget,
  writeCcspFromDataframes,
  writeCcspWorkbook,
} from './build.js';
export { type AuditInput, auditName, type ReportAudit, verifyReport, type VerifyResult } from './audit.js';
export { writeCcsp, CCSP_HEADERS } from './ccsp.js';
export { writeCcspV2, CCSPV2_HEADERS, JOBS_HEADERS, ORGANIZATIONS_HEADERS, ORGANIZATIONS_INDIRECT_HEADERS, ORG_SHEET_HEADERS } from './ccspv2.js';
export { MANAGED_NODES_HEADERS } from './content-sheets.js';
export { DEDUP_HEADERS, FACTS_HEADERS } from './dedup-columns.js';
export { DEFAULT_SHEETS, reportParams, type ReportParams } from './params.js';
export { type DataRow, type ReportDb, ReportQueries, type ReportTables, type Value } from './queries.js';
export { COLOR, DATE_FORMAT, PRICE_FORMAT, updatedLabel } from './styles.js';
export { closureGroups, codePointCompare, dedupGroups, hostnameGroups, inReferenceOrder, type HostMetricRecord } from './renewal-dedup.js';
export { foldGroups, renewalNodes, type RenewalDedupOptions, type RenewalDeduplicator, type RenewalNode } from './renewal-nodes.js';
export { DEDUPLICATORS, deduplicatorFor, type CcspDeduplicator, type Deduplicator } from './deduplicator.js';
export { ansibleHostOf, buildRenewalReport, HOST_METRIC_HEADERS, readHostMetrics, summarizeRenewal, writeRenewal, type BuildRenewalOptions, type RenewalSummary } from './renewal.js';
export { readWorkbook } from './sheet.js';
export { sheetTitle } from './sheet.js';
export { VALID_SHEETS, validateSheets, sheetInputs, type SheetInputs } from './sheet-selection.js';
export { factsCell, pythonJson, setCell } from './convert-cell.js';
export { INDIRECT_NODES_HEADERS, INFRASTRUCTURE_HEADERS } from './indirect-sheets.js';
export { INVENTORY_SCOPE_HEADERS } from './inventory-scope-sheet.js';
export { COLLECTION_HEADERS, collectionPeriod, GAP_HEADERS, periodGaps, TIMEDELTA_FORMAT } from './collection-status-sheet.js';
export { LONG_GAP_SECONDS, longGaps } from './report-inputs.js';
export { periodCoverage, type PeriodCoverage } from './coverage.js';
