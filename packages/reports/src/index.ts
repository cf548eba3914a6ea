export { buildCcspReport, reportTarget, type BuildCcspOptions, type BuildResult, type CcspType, type ReportPeriod, type ReportTarget } from './build.js';
export { writeCcsp, CCSP_HEADERS } from './ccsp.js';
export { writeCcspV2, CCSPV2_HEADERS, JOBS_HEADERS, ORGANIZATIONS_HEADERS, ORG_SHEET_HEADERS } from './ccspv2.js';
export { MANAGED_NODES_HEADERS } from './content-sheets.js';
export { DEFAULT_SHEETS, reportParams, type ReportParams } from './params.js';
export { ReportQueries } from './queries.js';
export { dayFolders, loadReportTables, type ReportDb, type ReportTables } from './tables.js';
export { COLOR, DATE_FORMAT, PRICE_FORMAT, updatedLabel } from './styles.js';
