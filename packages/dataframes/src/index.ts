export * from './types.js';
export { openDuckDb, ident, isOutOfMemory, literal, DEFAULT_MEMORY_LIMIT, type DuckDbOptions, type TallyDuckDb } from './duckdb.js';
export { Dataframe, type Fold, installUuidOf } from './dataframe.js';
export { ConcatenatedDataframe } from './concatenated.js';
export { JobHostSummary, DIRECT, INDIRECT, type JobHostSummaryOptions } from './job-host-summary.js';
export { MainHost } from './main-host.js';
export { MainJobevent } from './main-jobevent.js';
export { HostMetric } from './host-metric.js';
export { DataCollectionStatus } from './data-collection-status.js';
export * from './rollup.js';
export { loadExtracted, loadTarballs, type LoadOptions, type LoadResult, withExtracted } from './load.js';
export { loadUsage, type LoadUsageOptions, type LoadUsageResult, USAGE_TABLES, type UsageOptions, type UsageTables, usageTables } from './usage.js';
export { hashFile, hashObject, type HashedObject, listObject, type ListedObject, type ReadProgress, sameListing } from './inputs.js';
export type { RollupInput, RollupManifestPart } from './rollup.js';
export { usageFromRollups, usageRollupName, usageRollupsOverlap, writeUsageRollup } from './usage-rollup.js';
export { type PeriodUsage, type PeriodUsageOptions, periodUsage, type SkippedInput, type UsageInput } from './period-usage.js';
export { CsvError, csvHasRows, readCsvHeader } from './csv.js';
export { groupIndirectInto, indirectCollectionsSql, indirectNodes, infrastructureSummary, type IndirectNode, type InfrastructureRow, type RowSource } from './indirect-nodes.js';
export { inventoryScope, type InventoryScopeRow } from './inventory-scope.js';
export {
  collectionGaps,
  collectionStatusRows,
  collectionTimings,
  GAP_THRESHOLD_SECONDS,
  statusRow,
  type CollectionGap,
  type CollectionStatusRow,
  type CollectionTiming,
} from './collection-status.js';
