import type { Collector, CollectorParams } from '../collector.js';
import { totalWorkersVcpu } from '../prometheus.js';
import { config } from './config.js';
import { controllerVersionService } from './controller-version.js';
import { credentialsService } from './credentials-service.js';
import { jobHostSummary, jobHostSummaryService } from './job-host-summary.js';
import { mainJobEvent, mainJobEventService } from './job-events.js';
import { mainHost, mainHostDaily } from './main-host.js';
import { mainHostMetric } from './host-metric.js';
import { mainIndirectManagedNodeAudit } from './indirect-audit.js';
import { tableMetadata } from './table-metadata.js';
import { executionEnvironments, unifiedJobs } from './unified-jobs.js';
import { featureFlagsService } from './feature-flags.js';
import { taskExecutionsService } from './task-executions.js';

/**
 * Every collector gather knows, in the reference's declaration (and gathering)
 * order; `config` first. Metadata (version, format, slicing, optional) is section 1.7's.
 */
export const controllerCollectors: readonly Collector<CollectorParams>[] = Object.freeze([
  config,
  jobHostSummary,
  mainJobEvent,
  mainIndirectManagedNodeAudit,
  mainHost,
  mainHostDaily,
  mainHostMetric,
  totalWorkersVcpu,
  unifiedJobs,
  jobHostSummaryService,
  mainJobEventService,
  executionEnvironments,
  controllerVersionService,
  credentialsService,
  tableMetadata,
  featureFlagsService,
  taskExecutionsService,
] as Collector<CollectorParams>[]);

/** The collector for a key, or undefined. */
export function collectorByKey(key: string): Collector<CollectorParams> | undefined {
  return controllerCollectors.find((c) => c.meta.key === key);
}

/** The default of `METRICS_UTILITY_OPTIONAL_COLLECTORS` in the reference. */
export const DEFAULT_OPTIONAL_COLLECTORS: readonly string[] = ['main_jobevent'];
