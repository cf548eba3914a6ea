import { type Collector, DEFAULT_OPTIONAL_COLLECTORS } from '@tally/collectors';
import { ConfigError, type Logger } from '@tally/core';

export interface SelectOptions {
  /** Keys of optional collectors to gather (METRICS_UTILITY_OPTIONAL_COLLECTORS; default DEFAULT_OPTIONAL_COLLECTORS). */
  optionalCollectors?: readonly string[];
  /** METRICS_UTILITY_DISABLE_JOB_HOST_SUMMARY_COLLECTOR. */
  disableJobHostSummary?: boolean;
  logger?: Logger;
}

/**
 * Refuse names that are not optional collectors of `collectors`, with the reference's message.
 * The valid names are read from `collectors` at each call, never from a list of their own, so a
 * collector added to the registry is accepted at once. `job_host_summary` and `config` are not
 * optional (the reference refuses them here too).
 */
export function checkOptionalCollectors(collectors: readonly Collector[], names: readonly string[]): void {
  const valid = collectors.filter((c) => c.meta.optional && !c.meta.config).map((c) => c.meta.key);
  const invalid = [...new Set(names)].filter((n) => !valid.includes(n));
  if (invalid.length === 0) return;
  throw new ConfigError(`Invalid METRICS_UTILITY_OPTIONAL_COLLECTORS: ${invalid.join(', ')}. Valid values: ${valid.join(', ')}`, {
    field: 'METRICS_UTILITY_OPTIONAL_COLLECTORS',
  });
}

/**
 * The data collectors (not config) that run, in declaration order: optional ones
 * only when named, job_host_summary unless disabled. A named optional collector
 * that `collectors` does not hold is refused (ConfigError), never skipped.
 */
export function selectCollectors(collectors: readonly Collector[], opts: SelectOptions = {}): Collector[] {
  if (opts.optionalCollectors) checkOptionalCollectors(collectors, opts.optionalCollectors);
  const wanted = new Set(opts.optionalCollectors ?? DEFAULT_OPTIONAL_COLLECTORS);
  const out: Collector[] = [];
  for (const c of collectors) {
    const meta = c.meta;
    if (meta.config) continue;
    if (meta.key === 'job_host_summary' && opts.disableJobHostSummary) {
      opts.logger?.info('job_host_summary is disabled (METRICS_UTILITY_DISABLE_JOB_HOST_SUMMARY_COLLECTOR)');
      continue;
    }
    if (meta.optional && !wanted.has(meta.key)) {
      opts.logger?.debug(`${meta.key} is optional and not in METRICS_UTILITY_OPTIONAL_COLLECTORS; skipped`);
      continue;
    }
    out.push(c);
  }
  return out;
}
