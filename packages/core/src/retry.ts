import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryPolicy {
  /** Attempts in all, the first included (default 4). */
  attempts: number;
  /** First backoff in ms (default 200), doubled each time up to `maxDelayMs` (default 5000). */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 200, maxDelayMs: 5_000 };

const NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
  'TimeoutError', 'RequestTimeout', 'NetworkingError',
]);

/** HTTP statuses worth another attempt: throttling and server errors, never other 4xx. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** True for transport failures (resets, refused, timeouts) anywhere in the cause chain. */
export function isNetworkError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const o = e as { code?: string; name?: string; $metadata?: { httpStatusCode?: number }; cause?: unknown };
    if ((o.code && NETWORK_CODES.has(o.code)) || (o.name && NETWORK_CODES.has(o.name))) return true;
    if (o.name === 'AbortError' || o.name === 'TimeoutError') return true;
    e = o.cause;
  }
  return false;
}

/** Status carried by an error (`status`, `statusCode`, AWS `$metadata.httpStatusCode`). */
export function statusOf(err: unknown): number | undefined {
  const o = err as { status?: number; statusCode?: number; $metadata?: { httpStatusCode?: number } } | undefined;
  return o?.status ?? o?.statusCode ?? o?.$metadata?.httpStatusCode;
}

export function isRetryable(err: unknown): boolean {
  const status = statusOf(err);
  if (status !== undefined) return isRetryableStatus(status);
  return isNetworkError(err);
}

/** Full-jitter exponential backoff delay for attempt `n` (1-based). */
export function backoffDelay(n: number, policy: RetryPolicy = DEFAULT_RETRY): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1));
  return Math.round(cap / 2 + Math.random() * (cap / 2));
}

/**
 * Run `fn` until it succeeds, a non-retryable error is thrown, or attempts run
 * out. The one retry policy every network backend uses.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  opts: Partial<RetryPolicy> & { retryable?: (err: unknown) => boolean; onRetry?: (err: unknown, attempt: number, delayMs: number) => void } = {},
): Promise<T> {
  const policy = { ...DEFAULT_RETRY, ...opts };
  const retryable = opts.retryable ?? isRetryable;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= policy.attempts || !retryable(err)) throw err;
      const delay = backoffDelay(attempt, policy);
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay);
    }
  }
}
