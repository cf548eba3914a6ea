export { type GatherConfig, type GatheredTarball, type GatherFailure, type GatherOptions, type GatherResult, gather } from './gather.js';
export { type CollectorStatus, readCollectorStatus, type RunOutcome, type StateStore } from './state.js';
export { DEFAULT_STATE_TABLE, PostgresStateStore, type PostgresStateStoreOptions } from './state-postgres.js';
export { JsonFileStateStore } from './state-file.js';
export { DEFAULT_MAX_GATHER_PERIOD_DAYS } from './window.js';
export { checkOptionalCollectors, type SelectOptions, selectCollectors } from './select.js';
