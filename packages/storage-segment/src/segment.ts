import { randomUUID } from 'node:crypto';
import { StorageError, pythonJsonSize, silentLogger } from '@tally/core';
import { type ConfigKey, type Logger, loadConfig, requireConfig, type TallyConfig } from '@tally/core';
import { type PutSource, type Sink, checkName } from '@tally/storage';
import { type ChunkInfo, type SegmentMeta, chunkDict, chunkMessageId, maxChunkSize, pythonIsoTimestamp } from './chunk.js';
import { SegmentClient, type SegmentClientOptions, type SegmentTrack } from './client.js';

export const DEFAULT_SEGMENT_EVENT = 'Metrics Artifact Upload';

/** The client's settings (write key METRICS_UTILITY_SEGMENT_WRITE_KEY, host, retries …) and what each put sends. */
export interface SegmentOptions extends Omit<SegmentClientOptions, 'writeKeyVariable'> {
  /** Event name; default `Metrics Artifact Upload`. */
  event?: string;
  /** Meta sent with every put unless the put carries its own. */
  segmentMeta?: SegmentMeta;
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

/** The settings the Segment backend reads: METRICS_UTILITY_SEGMENT_WRITE_KEY and METRICS_UTILITY_SEGMENT_HOST. */
const SETTINGS = ['segmentWriteKey', 'segmentHost'] as const satisfies readonly ConfigKey[];

/**
 * Segment analytics as a Sink (nothing can be read back): a dict is split into
 * chunks that fit Segment's 32 KiB message limit and sent as one `track` event
 * per chunk. A put resolves only once every chunk was accepted; a chunk the SDK
 * finally gives up on (after its own retries) makes the put fail.
 */

export class SegmentStorage implements Sink {
  readonly backend = 'segment';
  private readonly opts: SegmentOptions;
  private readonly log: Logger;
  private readonly client: SegmentClient;
  /** Puts run one at a time: the SDK's flush must not overlap. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: SegmentOptions) {
    this.client = new SegmentClient(opts);
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
    const anonymousId = randomUUID();
    const event = this.opts.event ?? DEFAULT_SEGMENT_EVENT;
    const messageIds = chunks.map((_, i) => (meta.messageId ? chunkMessageId(meta.messageId, i + 1) : undefined));
    const tracks = chunks.map((chunk, i): SegmentTrack => {
      const chunkInfo: ChunkInfo = { chunk_number: i + 1, total_chunks: chunks.length, chunk_size: pythonJsonSize(chunk) };
      const messageId = messageIds[i];
      return {
        anonymousId,
        ...(meta.userId ? { userId: meta.userId } : {}),
        event,
        properties: { artifact_name: name, data: chunk, upload_timestamp: pythonIsoTimestamp(new Date()), chunk_info: chunkInfo },
        ...(messageId ? { messageId } : {}),
        ...(meta.timestamp ? { timestamp: meta.timestamp } : {}),
        ...(meta.context ? { context: meta.context } : {}),
        ...(meta.integrations ? { integrations: meta.integrations as Record<string, boolean> } : {}),
      };
    });
    await this.client.deliver(tracks, (i) => `put ${name}: chunk ${i + 1}/${chunks.length}`);
    this.log.info('segment put', { name, chunks: chunks.length });
    return { chunks, messageIds };
  }

  /** Wait for puts in progress and push out anything the SDK still holds. */
  async flush(): Promise<void> {
    await this.queue;
    await this.client.flush();
  }

  /** Flush anything still queued and stop the SDK's timers. */
  async close(): Promise<void> {
    await this.queue;
    await this.client.close();
  }

  describe(): Record<string, unknown> {
    return {
      backend: this.backend,
      host: this.client.host,
      event: this.opts.event ?? DEFAULT_SEGMENT_EVENT,
    };
  }
}
