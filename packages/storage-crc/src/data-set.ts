import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { readFile } from 'node:fs/promises';
import { buffer as readStream } from 'node:stream/consumers';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ConfigError,
  type Logger,
  type RetryPolicy,
  StorageError,
  backoffDelay,
  errorMessage,
  isNetworkError,
  isRetryableStatus,
  registerSecret,
  silentLogger,
} from '@tally/core';
import type { PutSource, Sink } from '@tally/storage';
import { Agent, fetch } from 'undici';
import { loadCaBundle } from './tls.js';
import type { Timeouts } from './upload.js';
import { safeUrl } from './upload.js';
import { userAgent } from './version.js';

export const DEFAULT_CHUNK_SIZE = 100;
/** Bodies larger than this go gzip-compressed (performanceplatform-client's 2 KiB threshold). */
export const GZIP_THRESHOLD = 2048;
/** As performanceplatform-client: five attempts, backing off from about a second. */
export const DATA_SET_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 1_000, maxDelayMs: 30_000 };

export interface DataSetOptions {
  /** The target file's `url`: the write API base. Records go to `{url}/{dataGroup}/{dataSet}`. */
  url: string;
  dataGroup: string;
  dataSet: string;
  /** The token file's `token`, sent as `Authorization: Bearer …`; never logged or printed. */
  token: string;
  /** CA bundle that verifies the server (default: the system store); verification is always on. */
  verifyCertPath?: string;
  timeouts?: Timeouts;
  retry?: Partial<RetryPolicy>;
  /** Compress bodies over 2 KiB with `Content-Encoding: gzip` (default true; false for receivers that cannot inflate). */
  gzip?: boolean;
  /** Print each request (token masked) instead of sending it. */
  dryRun?: { print(text: string): void };
  logger?: Logger;
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._~-]*$/;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The data set URL; https, or plain http to a loopback address only (the bearer token must not travel in clear). */
export function dataSetUrl(base: string, group: string, set: string): URL {
  let u: URL;
  try {
    u = new URL(base);
  } catch {
    throw new ConfigError(`data set: target url ${JSON.stringify(base)} is not a URL`, { field: 'url' });
  }
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK.has(u.hostname))) {
    throw new ConfigError(`data set: target url ${safeUrl(base)} must be https (plain http only to a loopback address)`, { field: 'url' });
  }
  if (u.username || u.password || u.search || u.hash) throw new ConfigError('data set: target url must not hold credentials, a query or a fragment', { field: 'url' });
  for (const [field, v] of [['data-group', group], ['data-set', set]] as const) {
    if (!SEGMENT.test(v)) throw new ConfigError(`data set: ${field} ${JSON.stringify(v)} must be a name of letters, digits, . _ ~ -`, { field });
  }
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/${group}/${set}`;
  return u;
}

function jsonBody(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

async function bodyOf(name: string, source: PutSource): Promise<Buffer> {
  if ('dict' in source) {
    if (!Array.isArray(source.dict)) throw new StorageError('data-set', `${name}: a data set takes a JSON array of records`);
    return Buffer.from(jsonBody(source.dict));
  }
  if ('buffer' in source) return Buffer.from(source.buffer);
  if ('filename' in source) return readFile(source.filename);
  return readStream(source.stream);
}

function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const s = Number(header);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * An HTTP data set (performanceplatform's Backdrop write API), put-only: each `put`
 * POSTs one JSON array with the bearer token. 5xx, 429 and dropped connections are
 * retried with jittered exponential backoff (honouring Retry-After); any other 4xx
 * fails at once. Every attempt of a chunk carries the same `Idempotency-Key`, so a
 * receiver can drop a duplicate after a connection lost on the way back.
 */
export class DataSetSink implements Sink {
  readonly backend = 'data-set';
  readonly url: URL;
  private readonly opts: DataSetOptions;
  private readonly policy: RetryPolicy;
  private readonly log: Logger;
  private readonly dispatcher: Agent;

  constructor(opts: DataSetOptions) {
    this.url = dataSetUrl(opts.url, opts.dataGroup, opts.dataSet);
    if (typeof opts.token !== 'string' || opts.token === '' || /[\s\u0000-\u001f]/.test(opts.token)) {
      throw new ConfigError('data set: the token must be a non-empty string without spaces or control characters', { field: 'token' });
    }
    registerSecret(opts.token);
    this.opts = opts;
    this.policy = { ...DATA_SET_RETRY, ...opts.retry };
    this.log = (opts.logger ?? silentLogger).child({ storage: 'data-set' });
    const { ca } = loadCaBundle(opts.verifyCertPath);
    const responseMs = opts.timeouts?.responseMs ?? 120_000;
    this.dispatcher = new Agent({
      connect: { ...(ca ? { ca } : {}), rejectUnauthorized: true, timeout: opts.timeouts?.connectMs ?? 31_000 },
      headersTimeout: responseMs,
      bodyTimeout: responseMs,
    });
  }

  private headers(body: Buffer, gzip: boolean): Record<string, string> {
    return {
      'content-type': 'application/json',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      accept: 'application/json',
      'user-agent': userAgent(),
      authorization: `Bearer ${this.opts.token}`,
      'idempotency-key': createHash('sha256').update(this.url.href).update('\n').update(body).digest('hex').slice(0, 32),
    };
  }

  /** POST one chunk; `name` says which (e.g. `chunk 3 (records 201–300)`) in logs and errors. */
  async put(name: string, source: PutSource): Promise<void> {
    const json = await bodyOf(name, source);
    const gzip = this.opts.gzip !== false && json.length > GZIP_THRESHOLD;
    const headers = this.headers(json, gzip);
    if (this.opts.dryRun) {
      // The JSON is printed as it would be before compression, so a person can read it.
      const shown = Object.entries({ ...headers, authorization: 'Bearer ****' }).map(([k, v]) => `${k}: ${v}`);
      this.opts.dryRun.print(`POST ${this.url.href}\n${shown.join('\n')}\n\n${json.toString('utf8')}\n`);
      return;
    }
    const body = gzip ? gzipSync(json) : json;
    for (let attempt = 1; ; attempt++) {
      let wait: number | undefined;
      let failure: StorageError;
      try {
        const res = await fetch(this.url, { method: 'POST', body, headers, dispatcher: this.dispatcher, redirect: 'manual' });
        const text = await res.text().catch(() => '');
        if (res.status >= 200 && res.status < 300) {
          this.log.debug('chunk sent', { name, bytes: body.length, json: json.length, status: res.status, attempt });
          return;
        }
        const excerpt = text.replace(/\s+/g, ' ').trim().slice(0, 300);
        failure = new StorageError(this.backend, `${name}: POST ${this.url.href} answered ${res.status} ${res.statusText}${excerpt ? `: ${excerpt}` : ''}`, { status: res.status });
        if (!isRetryableStatus(res.status)) throw failure;
        wait = retryAfterMs(res.headers.get('retry-after'));
      } catch (err) {
        if (err instanceof StorageError) throw err;
        if (!isNetworkError(err)) throw new StorageError(this.backend, `${name}: POST ${this.url.href} failed: ${errorMessage(err)}`, { cause: err });
        failure = new StorageError(this.backend, `${name}: POST ${this.url.href} failed: ${errorMessage(err)} (${(err as { cause?: { code?: string } }).cause?.code ?? 'network'})`, { cause: err });
      }
      if (attempt >= this.policy.attempts) throw new StorageError(this.backend, `${failure.message.replace(/^storage data-set: /, '')} (gave up after ${attempt} attempts)`, { cause: failure, ...(failure.status ? { status: failure.status } : {}) });
      const delay = Math.min(Math.max(backoffDelay(attempt, this.policy), wait ?? 0), Math.max(this.policy.maxDelayMs, 0));
      this.log.warn('chunk not accepted, retrying', { name, attempt, delayMs: delay, error: failure.message });
      await sleep(delay);
    }
  }

  describe(): Record<string, unknown> {
    return { backend: this.backend, url: safeUrl(this.url.href), dataGroup: this.opts.dataGroup, dataSet: this.opts.dataSet, ...(this.opts.dryRun ? { dryRun: true } : {}) };
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

/** What a push delivered: only chunks the server accepted count. */
export interface PushResult {
  records: number;
  chunks: number;
  bytes: number;
}

/** A chunk was refused or could not be delivered: earlier chunks were sent, it and later ones were not. */
export class PushError extends StorageError {
  readonly sent: PushResult;
  readonly chunk: number;
  constructor(message: string, chunk: number, sent: PushResult, cause: StorageError) {
    super('data-set', message, { cause, ...(cause.status ? { status: cause.status } : {}) });
    this.chunk = chunk;
    this.sent = sent;
  }
}

/**
 * Send records in chunks of `chunkSize`, one chunk at a time, stopping at the first
 * chunk that fails. Records are read from the iterable only as chunks go out, so
 * memory stays bounded by one chunk.
 */
export async function pushRecords(sink: Pick<DataSetSink, 'put'>, records: AsyncIterable<unknown> | Iterable<unknown>, chunkSize = DEFAULT_CHUNK_SIZE): Promise<PushResult> {
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new ConfigError(`data set: chunk size must be a whole number ≥ 1 (got ${chunkSize})`, { field: 'chunk-size' });
  const sent: PushResult = { records: 0, chunks: 0, bytes: 0 };
  let chunk: unknown[] = [];
  const flush = async () => {
    const n = sent.chunks + 1;
    const first = sent.records + 1;
    const name = `chunk ${n} (records ${first}–${first + chunk.length - 1})`;
    const body = Buffer.from(jsonBody(chunk));
    try {
      await sink.put(name, { buffer: body });
    } catch (err) {
      const e = err instanceof StorageError ? err : new StorageError('data-set', `${name}: ${errorMessage(err)}`, { cause: err });
      const message = `${e.message.replace(/^storage data-set: /, '')}; sent before it: ${sent.chunks} chunk(s), ${sent.records} record(s); ${name} and everything after it were not sent`;
      throw new PushError(message, n, { ...sent }, e);
    }
    sent.chunks++;
    sent.records += chunk.length;
    sent.bytes += body.length;
    chunk = [];
  };
  for await (const r of records) {
    chunk.push(r);
    if (chunk.length >= chunkSize) await flush();
  }
  if (chunk.length) await flush();
  return sent;
}
