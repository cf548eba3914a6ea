import { type Collector, DEFAULT_OPTIONAL_COLLECTORS } from '@tally/collectors';
import type { Logger } from '@tally/core';

export interface SelectOptions {
  /** Keys of optional collectors to gather (METRICS_UTILITY_OPTIONAL_COLLECTORS; default DEFAULT_OPTIONAL_COLLECTORS). */
  optionalCollectors?: readonly string[];
  /** METRICS_UTILITY_DISABLE_JOB_HOST_SUMMARY_COLLECTOR. */
  disableJobHostSummary?: boolean;
  logger?: Logger;
}

/**
 * The data collectors (not config) that run, in declaration order: optional ones
 * only when named, job_host_summary unless disabled.
 */
export function selectCollectors(collectors: readonly Collector[], opts: SelectOptions = {}): Collector[] {
  const wanted = new Set(opts.optionalCollectors ?? DEFAULT_OPTIONAL_COLLECTORS);
  const out: Collector[] = [];
  for (const c of collectors) {
    const meta = c.meta as typeof c.meta & { optional?: boolean };
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
