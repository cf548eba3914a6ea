import { Analytics } from '@segment/analytics-node';
import { ConfigError, type Logger, StorageError, errorMessage, pythonJsonSize, registerSecret, silentLogger } from '@tally/core';

export interface SegmentClientOptions {
  /** Segment source write key. */
  writeKey: string;
  /** The variable the key comes from, named when it is missing (default METRICS_UTILITY_SEGMENT_WRITE_KEY). */
  writeKeyVariable?: string;
  /** API base URL (METRICS_UTILITY_SEGMENT_HOST); default https://api.segment.io. */
  host?: string;
  /** Batch path; default /v1/batch. */
  path?: string;
  /** Retries the SDK makes per batch on network errors, 429 and 5xx (default 3). */
  maxRetries?: number;
  /** Per-request timeout in ms (default 30 000). */
  httpRequestTimeoutMs?: number;
  logger?: Logger;
}

/** One `track` event, as the SDK takes it. */
export interface SegmentTrack {
  event: string;
  userId?: string;
  anonymousId?: string;
  properties: Record<string, unknown>;
  context?: Record<string, unknown>;
  messageId?: string;
  timestamp?: Date;
  integrations?: Record<string, boolean>;
}

/**
 * Room for what the SDK adds to every event (message id, timestamp, library, runtime, integrations):
 * about 330 bytes as Python's json.dumps writes them; the rest is margin for longer version strings.
 */
export const SEGMENT_SDK_ENVELOPE = 512;

/**
 * Bytes of an event as metrics-utility's SDK measures it before dropping anything over 32 KiB
 * (Python `json.dumps`: `", "` separators, non-ASCII as `\uXXXX`), plus SEGMENT_SDK_ENVELOPE.
 * Never less than the JSON the Node SDK sends for it.
 */
export function trackEventSize(track: SegmentTrack): number {
  return pythonJsonSize({ type: 'track', ...track }) + SEGMENT_SDK_ENVELOPE;
}

/**
 * The one Segment SDK setup Tally has: write key and host validated, the key registered
 * as a secret, delivery errors logged without it. `deliver` resolves only once the SDK
 * accepted every event, and fails on the first one it gave up on (after its retries).
 */
export class SegmentClient {
  readonly host: string;
  private readonly opts: SegmentClientOptions;
  private readonly log: Logger;
  private analytics: Analytics | undefined;
  private closed = false;

  constructor(opts: SegmentClientOptions) {
    const keyVariable = opts.writeKeyVariable ?? 'METRICS_UTILITY_SEGMENT_WRITE_KEY';
    if (!opts.writeKey) throw new ConfigError(`storage segment: write key not set (${keyVariable})`, { field: keyVariable });
    if (opts.host !== undefined) checkHost(opts.host);
    registerSecret(opts.writeKey);
    this.opts = opts;
    this.host = opts.host ?? 'https://api.segment.io';
    this.log = (opts.logger ?? silentLogger).child({ storage: 'segment' });
  }

  private client(): Analytics {
    if (this.closed) throw new StorageError('segment', 'storage is closed');
    if (!this.analytics) {
      const analytics = new Analytics({
        writeKey: this.opts.writeKey,
        ...(this.opts.host ? { host: this.opts.host } : {}),
        ...(this.opts.path ? { path: this.opts.path } : {}),
        maxRetries: this.opts.maxRetries ?? 3,
        httpRequestTimeout: this.opts.httpRequestTimeoutMs ?? 30_000,
        // Each delivery flushes explicitly; the timer only matters if a flush is missed.
        flushInterval: 1_000,
      });
      analytics.on('error', (e) => this.log.warn('segment delivery error', { code: e.code, reason: errorMessage(e.reason) }));
      // Never the headers or the body: both carry the write key (Basic auth, `writeKey`).
      analytics.on('http_request', (r) => this.log.debug('segment request', { method: r.method, url: r.url, bytes: Buffer.byteLength(r.body) }));
      analytics.on('http_response', (r) => this.log.debug('segment response', { status: r.status, url: r.url }));
      this.analytics = analytics;
    }
    return this.analytics;
  }

  /** Send the events, flush them out, and wait for each; `what(i)` names event `i` in the error. */
  async deliver(tracks: readonly SegmentTrack[], what: (i: number) => string): Promise<void> {
    const analytics = this.client();
    const deliveries = tracks.map(
      (track, i) =>
        new Promise<void>((resolve, reject) => {
          // The SDK checks at run time that userId or anonymousId is there; its type says so statically.
          analytics.track(track as Parameters<Analytics['track']>[0], (err) => {
            if (!err) return resolve();
            reject(new StorageError('segment', `${what(i)} was not delivered: ${errorMessage(err)}`, { cause: err, ...statusFrom(err) }));
          });
        }),
    );
    // The SDK batches; flush so these events leave now rather than on the timer.
    await analytics.flush();
    const failed = (await Promise.allSettled(deliveries)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Push out anything the SDK still holds. */
  async flush(): Promise<void> {
    await this.analytics?.flush();
  }

  /** Flush and stop the SDK's timers; the client cannot send afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    const analytics = this.analytics;
    this.analytics = undefined;
    if (analytics) await analytics.closeAndFlush({ timeout: this.opts.httpRequestTimeoutMs ?? 30_000 });
  }
}

function checkHost(host: string): void {
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    throw new ConfigError(`storage segment: host ${JSON.stringify(host)} is not a URL`, { field: 'METRICS_UTILITY_SEGMENT_HOST' });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(`storage segment: host ${host} must be an http(s) URL`, { field: 'METRICS_UTILITY_SEGMENT_HOST' });
  }
}

/** The SDK reports failures as `Error('[503] Service Unavailable')`. */
function statusFrom(err: unknown): { status?: number } {
  const m = /^\[(\d{3})\]/.exec(errorMessage(err));
  return m ? { status: Number(m[1]) } : {};
}
