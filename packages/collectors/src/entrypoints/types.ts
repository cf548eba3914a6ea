import type { Logger } from '@tally/core';

/** One record for an HTTP data set: a JSON object. */
export type DataRecord = Record<string, unknown>;

/** What a collector reports about its progress, as OSIDB's `store(updated_until)`. */
export interface Progress {
  /** The records reflect the source up to this instant. */
  updatedUntil: Date;
  /** False when the run stopped short of `until` (e.g. a batch limit): dependents wait. */
  complete: boolean;
}

/** The `data-set` of a query file: where the records go (`{url}/{data-group}/{data-set}`). */
export interface DataSetRef {
  'data-group': string;
  'data-set': string;
}

/** What an entrypoint's `main(...)` is called with (performanceplatform-collector's arguments). */
export interface EntrypointArgs {
  /** The credentials file, as read and checked to be a JSON object; never log it. */
  credentials: Record<string, unknown>;
  dataSet: DataSetRef;
  /** The query file's `query`. */
  query: unknown;
  /** The query file's `options`. */
  options: Record<string, unknown>;
  since?: Date;
  until?: Date;
  /** Report progress: the run's watermark becomes `updatedUntil` instead of `until` (once every record is delivered). */
  store(progress: Progress): void;
  logger: Logger;
  signal?: AbortSignal;
}

/** Anything a `main(...)` may give back: records, or an (async) iterable of them, or a promise of either. */
export type EntrypointOutput = DataRecord[] | Iterable<DataRecord> | AsyncIterable<DataRecord>;

/** An entrypoint module's `main`. */
export type EntrypointMain = (args: EntrypointArgs) => EntrypointOutput | Promise<EntrypointOutput>;
