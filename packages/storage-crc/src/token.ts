import { StorageError, errorMessage, isNetworkError, isRetryableStatus, registerSecret, withRetry } from '@tally/core';
import type { Logger, RetryPolicy } from '@tally/core';
import * as oidc from 'openid-client';
import { Agent, type Dispatcher, fetch } from 'undici';
import { userAgent } from './version.js';

export interface TokenSourceOptions {
  backend: string;
  clientId: string;
  clientSecret: string;
  /** Token endpoint URL (the reference's METRICS_UTILITY_CRC_SSO_URL). Used unless `issuerUrl` is set. */
  tokenUrl: string;
  /** An issuer to run OpenID discovery on instead of a fixed token URL. */
  issuerUrl?: string;
  /** Plain http for the SSO server (tests against a loopback provider only). */
  allowInsecureHttp: boolean;
  ca?: string;
  /** Token request timeout in seconds (the reference uses 31). */
  timeoutSeconds: number;
  /** Extra token request parameters, e.g. `{ resource }` or `{ scope }`. */
  parameters?: Record<string, string>;
  retry?: Partial<RetryPolicy>;
  logger: Logger;
}

interface Cached {
  token: string;
  /** Epoch ms after which the token is no longer handed out. */
  refreshAt: number;
}

/**
 * HTTP status behind a token error: oauth4webapi puts the Response itself in
 * `cause` when the body is not an OAuth error document (an HTML 503 from a proxy).
 */
export function tokenErrorStatus(err: unknown): number | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; depth++) {
    const s = (e as { status?: unknown }).status;
    if (typeof s === 'number' && s >= 100) return s;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function tokenRetryable(err: unknown): boolean {
  const status = tokenErrorStatus(err);
  return status !== undefined ? isRetryableStatus(status) : isNetworkError(err);
}

function describeCause(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 4; depth++) {
    if (e instanceof Error && !parts.includes(e.message)) parts.push(e.message);
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join(': ') || errorMessage(err);
}

/** Keycloak-style token URL → its realm issuer, so a Configuration can be built without discovery. */
export function issuerFromTokenUrl(tokenUrl: string): string {
  const u = new URL(tokenUrl);
  const realm = u.pathname.replace(/\/protocol\/openid-connect\/token\/?$/, '');
  return realm !== u.pathname ? `${u.origin}${realm}` : u.origin;
}

/**
 * OAuth2 client-credentials tokens for the service account, cached until shortly
 * before they expire; concurrent callers share one request.
 */
export class TokenSource {
  private readonly opts: TokenSourceOptions;
  private readonly dispatcher: Dispatcher;
  private config: Promise<oidc.Configuration> | undefined;
  private cached: Cached | undefined;
  private inflight: Promise<string> | undefined;
  /** Tokens obtained so far (for logs and tests). */
  issued = 0;

  constructor(opts: TokenSourceOptions) {
    this.opts = opts;
    registerSecret(opts.clientSecret);
    this.dispatcher = new Agent({ connect: { ...(opts.ca ? { ca: opts.ca } : {}), rejectUnauthorized: true, timeout: opts.timeoutSeconds * 1000 } });
  }

  private configuration(): Promise<oidc.Configuration> {
    this.config ??= this.buildConfiguration().catch((err: unknown) => {
      this.config = undefined;
      throw err;
    });
    return this.config;
  }

  private async buildConfiguration(): Promise<oidc.Configuration> {
    const { clientId, clientSecret, allowInsecureHttp } = this.opts;
    const customFetch: oidc.CustomFetch = (url, init) =>
      fetch(url, {
        method: init.method,
        headers: { ...(init.headers as Record<string, string>), 'user-agent': userAgent() },
        body: init.body as string | undefined,
        redirect: init.redirect,
        signal: init.signal,
        dispatcher: this.dispatcher,
      }) as unknown as Promise<Response>;
    let config: oidc.Configuration;
    if (this.opts.issuerUrl) {
      config = await oidc.discovery(new URL(this.opts.issuerUrl), clientId, clientSecret, oidc.ClientSecretPost(clientSecret), {
        ...(allowInsecureHttp && this.opts.issuerUrl.startsWith('http:') ? { execute: [oidc.allowInsecureRequests] } : {}),
        timeout: this.opts.timeoutSeconds,
        [oidc.customFetch]: customFetch,
      });
    } else {
      config = new oidc.Configuration(
        { issuer: issuerFromTokenUrl(this.opts.tokenUrl), token_endpoint: this.opts.tokenUrl },
        clientId,
        clientSecret,
        oidc.ClientSecretPost(clientSecret),
      );
      if (allowInsecureHttp && this.opts.tokenUrl.startsWith('http:')) oidc.allowInsecureRequests(config);
    }
    config.timeout = this.opts.timeoutSeconds;
    config[oidc.customFetch] = customFetch;
    return config;
  }

  /** A valid access token, from the cache when it is not about to expire. */
  async token(): Promise<string> {
    if (this.cached && Date.now() < this.cached.refreshAt) return this.cached.token;
    this.inflight ??= this.fetchToken().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /** Forget the cached token (the ingress said 401: revoked or expired early). */
  invalidate(token?: string): void {
    if (!token || this.cached?.token === token) this.cached = undefined;
  }

  private async fetchToken(): Promise<string> {
    const { backend, logger } = this.opts;
    const where = this.opts.issuerUrl ?? this.opts.tokenUrl;
    let res: Awaited<ReturnType<typeof oidc.clientCredentialsGrant>>;
    try {
      res = await withRetry(
        async () => oidc.clientCredentialsGrant(await this.configuration(), this.opts.parameters ?? {}),
        {
          ...this.opts.retry,
          retryable: tokenRetryable,
          onRetry: (err, attempt, delayMs) => logger.warn('token request failed, retrying', { backend, attempt, delayMs, error: errorMessage(err) }),
        },
      );
    } catch (err) {
      const e = err as { error?: string; error_description?: string; status?: number; cause?: unknown };
      const detail = e.error ? `${e.error}${e.error_description ? ` (${e.error_description})` : ''}` : describeCause(err);
      const status = tokenErrorStatus(err);
      throw new StorageError(
        backend,
        `service account token request to ${where} failed${status ? ` with status ${status}` : ''}: ${detail}` +
          (e.error === 'invalid_client' ? ' — check METRICS_UTILITY_SERVICE_ACCOUNT_ID and METRICS_UTILITY_SERVICE_ACCOUNT_SECRET' : ''),
        { cause: err, ...(status ? { status } : {}) },
      );
    }
    const token = res.access_token;
    registerSecret(token);
    const expiresIn = res.expiresIn();
    // Refresh a little early so a token never expires in flight; short-lived tokens keep ¾ of their life.
    const lifeMs = (expiresIn ?? 60) * 1000;
    this.cached = { token, refreshAt: Date.now() + lifeMs - Math.min(30_000, lifeMs / 4) };
    this.issued++;
    logger.debug('service account token obtained', { backend, expiresIn });
    return token;
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
