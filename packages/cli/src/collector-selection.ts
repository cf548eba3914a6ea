import { type Collector, controllerCollectors } from '@tally/collectors';
import { ConfigError, type TallyConfig } from '@tally/core';
import { type GatherConfig, selectCollectors } from '@tally/gather';

/** The keys of the data collectors a gather with `cfg` runs (config excluded), in gathering order. */
export function enabledCollectorKeys(cfg: TallyConfig): string[] {
  return selectCollectors(controllerCollectors, gatherConfig(cfg)).map((c) => c.meta.key);
}

export function gatherConfig(cfg: TallyConfig): { -readonly [K in keyof GatherConfig]: GatherConfig[K] } {
  const out: { -readonly [K in keyof GatherConfig]: GatherConfig[K] } = {};
  if (cfg.optionalCollectors) out.optionalCollectors = cfg.optionalCollectors;
  if (cfg.disableJobHostSummary !== undefined) out.disableJobHostSummary = cfg.disableJobHostSummary;
  if (cfg.disableSaveLastGatheredEntries !== undefined) out.disableSaveLastGatheredEntries = cfg.disableSaveLastGatheredEntries;
  if (cfg.maxGatherPeriodDays !== undefined) out.maxGatherPeriodDays = cfg.maxGatherPeriodDays;
  if (cfg.collectorLockSuffix) out.collectorLockSuffix = cfg.collectorLockSuffix;
  if (cfg.maxDataSize) out.maxDataSize = cfg.maxDataSize;
  return out;
}

/**
 * The collectors for `--collectors a,b` (config always included). Naming an
 * optional collector selects it even when METRICS_UTILITY_OPTIONAL_COLLECTORS does not.
 */
export function pickCollectors(subset: readonly string[] | undefined): { collectors: Collector[]; optional?: string[] } {
  if (!subset) return { collectors: [...controllerCollectors] };
  const known = controllerCollectors.map((c) => c.meta.key);
  const unknown = subset.filter((k) => !known.includes(k));
  if (unknown.length) {
    throw new ConfigError(`--collectors: unknown collector ${unknown.join(', ')}; known: ${known.filter((k) => k !== 'config').join(', ')}`, {
      field: 'collectors',
    });
  }
  return {
    collectors: controllerCollectors.filter((c) => c.meta.config || subset.includes(c.meta.key)),
    optional: [...subset],
  };
}

