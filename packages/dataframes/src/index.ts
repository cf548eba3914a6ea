export type { FactPair } from './types.js';
export { DEFAULT_MEMORY_LIMIT, type DuckDbOptions, type DuckDbStatements, ident, openDuckDb, startDuckDb, type TallyDuckDb } from './duckdb.js';
export { Dataframe, type Fold } from './dataframe.js';
export { type FactValue, factValue } from './fact-value.js';
export { ConcatenatedDataframe } from './concatenated.js';
export { DIRECT, INDIRECT, JobHostSummary, type JobHostSummaryOptions } from './job-host-summary.js';
export { MainHost } from './main-host.js';
export { type CcspDedup, type CcspDedupFrames, dedupCcspExperimental, dedupHostsInto } from './ccsp-dedup.js';
export { MainJobevent } from './main-jobevent.js';
export { HostMetric } from './host-metric.js';
export { DataCollectionStatus } from './data-collection-status.js';
export {
  addRollups,
  manifestName,
  COUNTING_RULE_VERSION,
  periodWindows,
  readManifest,
  ROLLUP_KINDS,
  ROLLUP_MEMORY_LIMIT,
  type RollupInput,
  type RollupKind,
  type RollupManifest,
  type RollupManifestPart,
  type RollupOptions,
  type RollupPart,
  type RollupPeriod,
  type RollupResult,
  rollup,
  rollupName,
} from './rollup.js';
export { type LoadOptions, type LoadResult, loadTarballs } from './load.js';
export { type LoadedAdjustments, loadUsage, type LoadUsageOptions, type LoadUsageResult, USAGE_TABLES, type UsageOptions, type UsageTables, usageTables } from './usage.js';
export { type HashedObject, hashObject, type ReadProgress } from './inputs.js';
export { hostTotalsSelect, orgHostsSelect, orgRunsSelect, orgTotalsSelect, READY_SHEET_TABLES, type ReadySheets } from './usage-sheets.js';
export { directJobs, usageFromRollups, usageRollupName, usageRollupsOverlap, writeUsageRollup } from './usage-rollup.js';
export { type PeriodUsage, type PeriodUsageOptions, periodUsage, type SkippedInput, type UsageInput } from './period-usage.js';
export { csvHasRows } from './csv.js';
export {
  groupIndirectInto,
  type IndirectNode,
  indirectCollectionsSql,
  indirectNodes,
  type InfrastructureRow,
  infrastructureSummary,
  type RowSource,
} from './indirect-nodes.js';
export { inventoryScope, type InventoryScopeRow } from './inventory-scope.js';
export {
  type CollectionGap,
  type CollectionStatusRow,
  type CollectionTiming,
  collectionGaps,
  collectionStatusRows,
  collectionTimings,
  GAP_THRESHOLD_SECONDS,
} from './collection-status.js';
export { PAIRS_TYPE } from './sql.js';
export {
  type AnonymizedDay,
  type AnonymizedDayOptions,
  type AnonymizedPayload,
  anonymizedRollup,
  anonymizedRollupOfDay,
  type AnonymizedRollupOptions,
} from './anonymized/payload.js';
export type { RollupTarball } from './anonymized/input.js';
