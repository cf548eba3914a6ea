import { randomUUID } from 'node:crypto';
import { Analytics } from '@segment/analytics-node';
import { ConfigError, StorageError, errorMessage, pythonJsonSize, registerSecret, silentLogger } from '@tally/core';
import { type ConfigKey, type Logger, loadConfig, requireConfig, type TallyConfig } from '@tally/core';
import { type PutSource, type Sink, checkName } from '@tally/storage';
import { type ChunkInfo, type SegmentMeta, chunkDict, chunkMessageId, maxChunkSize, pythonIsoTimestamp } from './chunk.js';

export const DEFAULT_SEGMENT_EVENT = 'Metrics Artifact Upload';

export interface SegmentOptions {
  /** Segment source write key (METRICS_UTILITY_SEGMENT_WRITE_KEY). */
  writeKey: string;
  /** API base URL (METRICS_UTILITY_SEGMENT_HOST); default https://api.segment.io. */
  host?: string;
  /** Batch path; default /v1/batch. */
  path?: string;
  /** Event name; default `Metrics Artifact Upload`. */
  event?: string;
  /** Meta sent with every put unless the put carries its own. */
  segmentMeta?: SegmentMeta;
  /** Retries the SDK makes per batch on network errors, 429 and 5xx (default 3). */
  maxRetries?: number;
  /** Per-request timeout in ms (default 30 000). */
  httpRequestTimeoutMs?: number;
  logger?: Logger;
}

/** A dict put, optionally with its own Segment meta (message id base, context …). */
export type SegmentPutSource = PutSource | { dict: unknown; segmentMeta?: SegmentMeta };

/** What one put sent: the chunks in order, with their message ids when deterministic. */
export interface SegmentPutResult {
  chunks: Record<string, unknown>[];
  messageIds: (string | undefined)[];
}

/** What Segment accepts, in the words every refusal uses. */
export const SEGMENT_ACCEPTS = 'Segment accepts dicts (JSON objects, sent as track events in chunks of at most 32 KiB), not files, streams or tarballs';

/**
 * Segment analytics as a Sink (nothing can be read back): a dict is split into
 * chunks that fit Segment's 32 KiB message limit and sent as one `track` event
 * per chunk. A put resolves only once every chunk was accepted; a chunk the SDK
 * finally gives up on (after its own retries) makes the put fail.
 */
/** The settings the Segment backend reads: METRICS_UTILITY_SEGMENT_WRITE_KEY and METRICS_UTILITY_SEGMENT_HOST. */
const SETTINGS = ['segmentWriteKey', 'segmentHost'] as const satisfies readonly ConfigKey[];

export class SegmentStorage implements Sink {
  readonly backend = 'segment';
  private readonly opts: SegmentOptions;
  private readonly log: Logger;
  private client: Analytics | undefined;
  /** Puts run one at a time: the SDK's flush must not overlap. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(opts: SegmentOptions) {
    if (!opts.writeKey) {
      throw new ConfigError('storage segment: write key not set (METRICS_UTILITY_SEGMENT_WRITE_KEY)', { field: 'METRICS_UTILITY_SEGMENT_WRITE_KEY' });
    }
    if (opts.host !== undefined) {
      let url: URL;
      try {
        url = new URL(opts.host);
      } catch {
        throw new ConfigError(`storage segment: host ${JSON.stringify(opts.host)} is not a URL`, { field: 'METRICS_UTILITY_SEGMENT_HOST' });
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:') {
        throw new ConfigError(`storage segment: host ${opts.host} must be an http(s) URL`, { field: 'METRICS_UTILITY_SEGMENT_HOST' });
      }
    }
    registerSecret(opts.writeKey);
    this.opts = opts;
    this.log = (opts.logger ?? silentLogger).child({ storage: 'segment' });
  }

  /** From METRICS_UTILITY_SEGMENT_WRITE_KEY (required) and METRICS_UTILITY_SEGMENT_HOST in `env`, validated. */
  static fromEnv(env: Record<string, string | undefined>, extra: Partial<SegmentOptions> = {}): SegmentStorage {
    return SegmentStorage.fromConfig(loadConfig({ env, keys: SETTINGS }), extra);
  }

  /** From `loadConfig()` values (environment and config file, as the CLI reads them). */
  static fromConfig(cfg: Pick<TallyConfig, (typeof SETTINGS)[number]>, extra: Partial<SegmentOptions> = {}): SegmentStorage {
    const c = requireConfig(cfg, ['segmentWriteKey'], 'METRICS_UTILITY_SHIP_TARGET=segment');
    return new SegmentStorage({
      writeKey: c.segmentWriteKey,
      ...(cfg.segmentHost ? { host: cfg.segmentHost } : {}),
      ...extra,
    });
  }

  private analytics(): Analytics {
    if (this.closed) throw new StorageError(this.backend, 'storage is closed');
    if (!this.client) {
      const client = new Analytics({
        writeKey: this.opts.writeKey,
        ...(this.opts.host ? { host: this.opts.host } : {}),
        ...(this.opts.path ? { path: this.opts.path } : {}),
        maxRetries: this.opts.maxRetries ?? 3,
        httpRequestTimeout: this.opts.httpRequestTimeoutMs ?? 30_000,
        // Each put flushes explicitly; the timer only matters if a flush is missed.
        flushInterval: 1_000,
      });
      client.on('error', (e) => this.log.warn('segment delivery error', { code: e.code, reason: errorMessage(e.reason) }));
      this.client = client;
    }
    return this.client;
  }

  async put(name: string, source: SegmentPutSource): Promise<void> {
    await this.send(name, source);
  }

  /** Like `put`, but returns the chunks and message ids sent (for callers that record them). */
  send(name: string, source: SegmentPutSource): Promise<SegmentPutResult> {
    const run = this.queue.then(() => this.sendNow(name, source));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async sendNow(name: string, source: SegmentPutSource): Promise<SegmentPutResult> {
    checkName(this.backend, name);
    if (!('dict' in source) || source.dict === undefined || source.dict === null) {
      throw new StorageError(this.backend, `put ${name}: ${SEGMENT_ACCEPTS}`);
    }
    const meta: SegmentMeta = ('segmentMeta' in source ? source.segmentMeta : undefined) ?? this.opts.segmentMeta ?? {};
    const startedAt = new Date();
    const chunks = chunkDict(source.dict, maxChunkSize(name, meta, startedAt));
    const analytics = this.analytics();
    const anonymousId = randomUUID();
    const event = this.opts.event ?? DEFAULT_SEGMENT_EVENT;
    const messageIds = chunks.map((_, i) => (meta.messageId ? chunkMessageId(meta.messageId, i + 1) : undefined));

    const deliveries = chunks.map(
      (chunk, i) =>
        new Promise<void>((resolve, reject) => {
          const chunkInfo: ChunkInfo = { chunk_number: i + 1, total_chunks: chunks.length, chunk_size: pythonJsonSize(chunk) };
          const messageId = messageIds[i];
          analytics.track(
            {
              anonymousId,
              ...(meta.userId ? { userId: meta.userId } : {}),
              event,
              properties: {
                artifact_name: name,
                data: chunk,
                upload_timestamp: pythonIsoTimestamp(new Date()),
                chunk_info: chunkInfo,
              },
              ...(messageId ? { messageId } : {}),
              ...(meta.timestamp ? { timestamp: meta.timestamp } : {}),
              ...(meta.context ? { context: meta.context } : {}),
              ...(meta.integrations ? { integrations: meta.integrations as Record<string, boolean> } : {}),
            },
            (err) => {
              if (err) {
                reject(
                  new StorageError(this.backend, `put ${name}: chunk ${i + 1}/${chunks.length} was not delivered: ${errorMessage(err)}`, {
                    cause: err,
                    ...statusFrom(err),
                  }),
                );
              } else resolve();
            },
          );
        }),
    );
    // The SDK batches; flush so this put's events leave now rather than on the timer.
    await analytics.flush();
    const results = await Promise.allSettled(deliveries);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    this.log.info('segment put', { name, chunks: chunks.length });
    return { chunks, messageIds };
  }

  /** Wait for puts in progress and push out anything the SDK still holds. */
  async flush(): Promise<void> {
    await this.queue;
    await this.client?.flush();
  }

  /** Flush anything still queued and stop the SDK's timers. */
  async close(): Promise<void> {
    await this.queue;
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    if (client) await client.closeAndFlush({ timeout: this.opts.httpRequestTimeoutMs ?? 30_000 });
  }

  describe(): Record<string, unknown> {
    return {
      backend: this.backend,
      host: this.opts.host ?? 'https://api.segment.io',
      event: this.opts.event ?? DEFAULT_SEGMENT_EVENT,
    };
  }
}

/** The SDK reports failures as `Error('[503] Service Unavailable')`. */
function statusFrom(err: unknown): { status?: number } {
  const m = /^\[(\d{3})\]/.exec(errorMessage(err));
  return m ? { status: Number(m[1]) } : {};
}
