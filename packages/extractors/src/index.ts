export type { ExtractedTarball, ExtractFailure, ExtractLimits, ExtractRangeOptions, ExtractRangeResult, TarballDigest } from './types.js';
export { DEFAULT_MAX_MEMBERS, DEFAULT_MAX_TOTAL_BYTES } from './extract-file.js';
export { extractTarball, extractTarballFile } from './safe-extract.js';
export { dayFolders, listTarballs } from './days.js';
export { type CsvFieldKind, csvPrepareNative, prepareCsvFile } from './csv-prepare.js';
export { extractAll, extractRange, iterateTarballs } from './range.js';
/** Internal: for callers that extract again soon (see extract-in-worker.ts). */
export { holdExtractionWorker } from './extract-in-worker.js';
export {
  CSV_SCHEMAS,
  type CsvSchema,
  csvHeaderVersion,
  JOB_HOST_SUMMARY_ALIASES,
  JOB_HOST_SUMMARY_COLUMNS,
  type JobHostSummaryColumn,
  type JobHostSummarySchema,
  jobHostSummarySchema,
  mapJobHostSummaryHeader,
} from './schemas.js';
