import { openAsBlob } from 'node:fs';
import {
  ConfigError,
  DEFAULT_RETRY,
  type Logger,
  type RetryPolicy,
  StorageError,
  errorMessage,
  isNetworkError,
  isRetryable,
  registerSecret,
  silentLogger,
  withRetry,
} from '@tally/core';
import { type PutSource, putBody } from '@tally/storage';
import { Agent, type Dispatcher, FormData, ProxyAgent, fetch } from 'undici';
import { userAgent } from './version.js';

/** The part content type the console's billing-controller ingress expects. */
export const PAYLOAD_CONTENT_TYPE = 'application/vnd.redhat.aap-billing-controller.aap_billing_controller_payload+tgz';
export const DEFAULT_INGRESS_URL = 'https://console.redhat.com/api/ingress/v1/upload';

export interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface Timeouts {
  /** TCP + TLS connect, ms (default 31 000 like the reference's token request). */
  connectMs?: number;
  /** Waiting for the response headers / between body chunks, ms (default 300 000). */
  responseMs?: number;
}

export interface UploaderOptions {
  backend: string;
  ingressUrl: string;
  /** METRICS_UTILITY_PROXY_URL: used for the upload only, like the reference. */
  proxyUrl?: string;
  tls: TlsMaterial;
  timeouts?: Timeouts;
  retry?: Partial<RetryPolicy>;
  /** Extra words for transport failures (mTLS: the server may have refused our certificate). */
  networkHint?: string;
  logger?: Logger;
}

/** A put source made re-readable, so a retried upload sends the same bytes. */
export interface PreparedPayload {
  size: number;
  contentType: string;
  blob(): Promise<Blob>;
  release(): Promise<void>;
}

/** Any put source as a payload that can be sent several times (retries, a token refresh), streamed from disk where possible; files, streams and buffers go as `contentType`. */
export async function preparePayload(backend: string, name: string, source: PutSource, contentType: string = PAYLOAD_CONTENT_TYPE): Promise<PreparedPayload> {
  const body = await putBody(backend, name, source);
  const type = body.kind === 'dict' ? body.contentType : contentType;
  const data = body.data;
  const blob = data ? async () => new Blob([data], { type }) : () => openAsBlob(body.path!, { type });
  return { size: body.size!, contentType: type, blob, release: () => body.release() };
}

/** Check an ingress/SSO URL: http(s) only, plain http only when explicitly allowed (tests). */
export function checkUrl(url: string, field: string, what: string, allowHttp: boolean): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`${what} ${JSON.stringify(url)} is not a URL (${field})`, { field });
  }
  if (u.protocol === 'https:') return u;
  if (u.protocol === 'http:' && allowHttp) return u;
  throw new ConfigError(
    u.protocol === 'http:'
      ? `${what} ${url} is plain http; credentials and data would travel unencrypted (${field} must be https)`
      : `${what} ${url} must be an https URL (${field})`,
    { field },
  );
}

/** A proxy password in the URL is a secret: keep it out of every log line. */
export function registerProxySecret(url: string): void {
  try {
    const { password } = new URL(url);
    if (password) registerSecret(decodeURIComponent(password));
  } catch {
    // checkUrl already refused malformed URLs
  }
}

/** The URL without user:password, safe for describe() and logs. */
export function safeUrl(url: string | undefined): string | undefined {
  if (!url) return url;
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '[invalid URL]';
  }
}

const TLS_VERIFY_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE',
]);

function codeOf(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const o = e as { code?: string; cause?: unknown };
    if (o.code) return o.code;
    e = o.cause;
  }
  return undefined;
}

function deepMessage(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const m = errorMessage(e);
    if (m && !parts.includes(m)) parts.push(m);
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join(': ');
}

/**
 * POSTs a payload as multipart field `file` to the ingress with the shared retry
 * policy. One instance owns one connection pool; close() releases it.
 */
export class IngressUploader {
  readonly url: URL;
  private readonly opts: UploaderOptions;
  private readonly dispatcher: Dispatcher;
  private readonly log: Logger;

  constructor(opts: UploaderOptions) {
    this.opts = opts;
    this.url = new URL(opts.ingressUrl);
    this.log = opts.logger ?? silentLogger;
    const connectMs = opts.timeouts?.connectMs ?? 31_000;
    const responseMs = opts.timeouts?.responseMs ?? 300_000;
    const tls = { ...opts.tls, rejectUnauthorized: true };
    if (opts.proxyUrl) registerProxySecret(opts.proxyUrl);
    this.dispatcher = opts.proxyUrl
      ? new ProxyAgent({ uri: opts.proxyUrl, requestTls: { ...tls, timeout: connectMs }, headersTimeout: responseMs, bodyTimeout: responseMs })
      : new Agent({ connect: { ...tls, timeout: connectMs }, headersTimeout: responseMs, bodyTimeout: responseMs });
  }

  /** Send the payload; `headers` are added to every attempt (e.g. the bearer token). */
  async upload(name: string, payload: PreparedPayload, headers: Record<string, string> = {}): Promise<void> {
    const backend = this.opts.backend;
    try {
      await withRetry(
        async (attempt) => {
          const form = new FormData();
          form.append('file', await payload.blob(), name);
          const res = await fetch(this.url, {
            method: 'POST',
            body: form,
            headers: { 'user-agent': userAgent(), accept: 'application/json', ...headers },
            dispatcher: this.dispatcher,
            redirect: 'manual',
          });
          const body = await res.text().catch(() => '');
          if (res.status < 300) {
            this.log.info('uploaded', { backend, name, bytes: payload.size, status: res.status, attempt });
            return;
          }
          if (res.status === 413) {
            throw new StorageError(backend, `put ${name}: the ingress refused the payload as too large (413): ${payload.size} bytes sent`, { status: 413 });
          }
          const excerpt = body.replace(/\s+/g, ' ').trim().slice(0, 300);
          throw new StorageError(backend, `put ${name}: upload to ${this.url.origin}${this.url.pathname} failed with status ${res.status}${excerpt ? `: ${excerpt}` : ''}`, {
            status: res.status,
          });
        },
        {
          ...DEFAULT_RETRY,
          ...this.opts.retry,
          retryable: isRetryable,
          onRetry: (err, attempt, delayMs) => this.log.warn('upload failed, retrying', { backend, name, attempt, delayMs, error: errorMessage(err) }),
        },
      );
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw this.transportError(name, err);
    }
  }

  private transportError(name: string, err: unknown): StorageError {
    const backend = this.opts.backend;
    const code = codeOf(err);
    const where = `${this.url.origin}${this.url.pathname}`;
    if (code && TLS_VERIFY_CODES.has(code)) {
      return new StorageError(
        backend,
        `put ${name}: the certificate of ${this.url.host} could not be verified (${code}); point METRICS_UTILITY_CRC_VERIFY_CERT_PATH at the CA bundle that signed it`,
        { cause: err },
      );
    }
    const hint = isNetworkError(err) && this.opts.networkHint ? `; ${this.opts.networkHint}` : '';
    return new StorageError(backend, `put ${name}: upload to ${where} failed: ${deepMessage(err)}${code ? ` (${code})` : ''}${hint}`, { cause: err });
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
