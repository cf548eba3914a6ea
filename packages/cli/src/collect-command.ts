import { dirname, resolve } from 'node:path';
import { type DataRecord, loadEntrypoint, type Progress } from '@tally/collectors';
import { CollectorError, type Logger, silentLogger, TallyError } from '@tally/core';
import { DataSetSink, pushRecords, type PushResult } from '@tally/storage-crc';
import { type CollectFiles, readCredentialsFile, readQueryFile, readTargetFile, readTokenFile } from './collect-files.js';
import { type CliIO, cliLogger } from './io.js';

export interface CollectRun {
  files: CollectFiles;
  since?: Date;
  until?: Date;
  dryRun?: boolean;
  /** Overrides the query file's `options.chunk-size`. */
  chunkSize?: number;
  /** Where --dry-run prints the requests. */
  print?: (text: string) => void;
  logger?: Logger;
  signal?: AbortSignal;
  /** Retry policy for the data set (tests shorten the backoff). */
  retry?: ConstructorParameters<typeof DataSetSink>[0]['retry'];
}

export interface CollectOutcome extends PushResult {
  url: string;
  /** What the collector reported with store(), if it did. */
  progress?: Progress;
  durationMs: number;
}

/** Add the query file's additionalFields to each record; the record's own fields win, as in performanceplatform's parser. */
async function* withFields(records: AsyncIterable<DataRecord>, fields: Record<string, unknown>): AsyncGenerator<DataRecord> {
  const none = Object.keys(fields).length === 0;
  for await (const r of records) yield none ? r : { ...fields, ...r };
}

function checkProgress(p: Progress, since: Date | undefined, until: Date | undefined): Progress {
  if (!p || !(p.updatedUntil instanceof Date) || Number.isNaN(p.updatedUntil.getTime()) || typeof p.complete !== 'boolean') {
    throw new CollectorError('store', 'store() takes {updatedUntil: Date, complete: boolean}');
  }
  if (until && p.updatedUntil.getTime() > until.getTime()) throw new CollectorError('store', `updatedUntil ${p.updatedUntil.toISOString()} is after until ${until.toISOString()}`);
  if (since && p.updatedUntil.getTime() < since.getTime()) throw new CollectorError('store', `updatedUntil ${p.updatedUntil.toISOString()} is before since ${since.toISOString()}: data cannot be set less up to date`);
  return p;
}

/**
 * One collector run: read and check the files, load the entrypoint, and push its
 * records to `{url}/{data-group}/{data-set}` in chunks. Shared by `tally collect`
 * and scheduled user collectors.
 */
export async function runCollect(run: CollectRun): Promise<CollectOutcome> {
  const started = Date.now();
  const query = readQueryFile(run.files.query);
  const target = readTargetFile(run.files.target);
  const credentials = run.files.credentials ? readCredentialsFile(run.files.credentials) : {};
  const token = run.files.token ? readTokenFile(run.files.token) : run.dryRun ? 'dry-run-token' : undefined;
  if (!token) throw new TallyError('a token file is needed to send records (--token token.json), or --dry-run');
  const logger = run.logger ?? silentLogger;
  const entrypoint = await loadEntrypoint(query.entrypoint, dirname(resolve(query.path)));
  const sink = new DataSetSink({
    url: target.url,
    dataGroup: query.dataGroup,
    dataSet: query.dataSet,
    token,
    ...(target.verifyCertPath ? { verifyCertPath: target.verifyCertPath } : {}),
    ...(target.gzip === false ? { gzip: false } : {}),
    ...(run.dryRun ? { dryRun: { print: run.print ?? (() => {}) } } : {}),
    ...(run.retry ? { retry: run.retry } : {}),
    logger,
  });
  let progress: Progress | undefined;
  try {
    logger.info('running collection', { entrypoint: query.entrypoint, dataGroup: query.dataGroup, dataSet: query.dataSet, since: run.since, until: run.until, dryRun: run.dryRun === true });
    const records = entrypoint.run({
      credentials,
      dataSet: { 'data-group': query.dataGroup, 'data-set': query.dataSet },
      query: query.query,
      options: query.options,
      ...(run.since ? { since: run.since } : {}),
      ...(run.until ? { until: run.until } : {}),
      store: (p) => {
        progress = checkProgress(p, run.since, run.until);
      },
      logger: logger.child({ entrypoint: query.entrypoint }),
      ...(run.signal ? { signal: run.signal } : {}),
    });
    const sent = await pushRecords(sink, withFields(records, query.additionalFields), run.chunkSize ?? query.chunkSize);
    return { ...sent, url: sink.url.href, durationMs: Date.now() - started, ...(progress ? { progress } : {}) };
  } finally {
    await sink.close();
  }
}

export interface CollectCommandOptions {
  query: string;
  target: string;
  credentials?: string;
  token?: string;
  since?: Date;
  until?: Date;
  dryRun?: boolean;
  chunkSize?: number;
}

/** `tally collect`: run one collector from its files and push the records to an HTTP data set. */
export async function collectCommand(opts: CollectCommandOptions, io: CliIO): Promise<void> {
  const logger = cliLogger(io, { command: 'collect' });
  if (io.env.TALLY_DISABLE_COLLECTORS === 'true') {
    logger.info('collector not run: TALLY_DISABLE_COLLECTORS=true', { query: opts.query, since: opts.since, until: opts.until });
    return;
  }
  if (opts.since && opts.until && opts.since.getTime() >= opts.until.getTime()) {
    throw new TallyError(`--since ${opts.since.toISOString()} is not before --until ${opts.until.toISOString()}`);
  }
  const out = await runCollect({
    files: {
      query: opts.query,
      target: opts.target,
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      ...(opts.token ? { token: opts.token } : {}),
    },
    ...(opts.since ? { since: opts.since } : {}),
    ...(opts.until ? { until: opts.until } : {}),
    ...(opts.dryRun ? { dryRun: true } : {}),
    ...(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}),
    print: (text) => io.stdout.write(`${text}\n`),
    logger,
  });
  const verb = opts.dryRun ? 'would send' : 'sent';
  const progress = out.progress ? `; collector reports data ${out.progress.complete ? 'complete' : 'partial'} up to ${out.progress.updatedUntil.toISOString()}` : '';
  io.stdout.write(`${verb} ${out.records} record(s) in ${out.chunks} chunk(s) (${out.bytes} bytes) to ${out.url}${progress}\n`);
}
