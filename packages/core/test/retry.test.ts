import { DEFAULT_RETRY, backoffDelay, isNetworkError, isRetryable, isRetryableStatus, statusOf, withRetry } from '@tally/core';
import { describe, expect, it } from 'vitest';

const withCode = (code: string, message = code) => Object.assign(new Error(message), { code });

describe('retry classification', () => {
  it('retries throttling and server errors, never other 4xx', () => {
    expect([429, 500, 502, 503, 504].map(isRetryableStatus)).toEqual([true, true, true, true, true]);
    expect([400, 401, 403, 404, 409, 413].map(isRetryableStatus)).toEqual([false, false, false, false, false, false]);
  });

  it('reads the status from status, statusCode or the AWS $metadata', () => {
    expect(statusOf({ status: 503 })).toBe(503);
    expect(statusOf({ statusCode: 404 })).toBe(404);
    expect(statusOf({ $metadata: { httpStatusCode: 500 } })).toBe(500);
    expect(statusOf(new Error('plain'))).toBeUndefined();
    expect(statusOf(undefined)).toBeUndefined();
  });

  it('finds transport failures anywhere in the cause chain', () => {
    expect(isNetworkError(withCode('ECONNRESET'))).toBe(true);
    expect(isNetworkError(new Error('fetch failed', { cause: withCode('UND_ERR_SOCKET') }))).toBe(true);
    expect(isNetworkError(new Error('a', { cause: new Error('b', { cause: withCode('ETIMEDOUT') }) }))).toBe(true);
    expect(isNetworkError(Object.assign(new Error('slow'), { name: 'TimeoutError' }))).toBe(true);
    expect(isNetworkError(withCode('ENOENT'))).toBe(false);
    expect(isNetworkError(new Error('boom'))).toBe(false);
  });

  it('a status decides before the transport: a 404 with a reset cause is final', () => {
    expect(isRetryable(Object.assign(withCode('ECONNRESET'), { status: 404 }))).toBe(false);
    expect(isRetryable({ $metadata: { httpStatusCode: 503 } })).toBe(true);
    expect(isRetryable(withCode('ECONNREFUSED'))).toBe(true);
    expect(isRetryable(new TypeError('x is not a function'))).toBe(false);
  });

  it('backoff is full jitter in [cap/2, cap], doubling up to the maximum', () => {
    const policy = { attempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };
    for (let i = 0; i < 200; i++) {
      const d1 = backoffDelay(1, policy);
      const d3 = backoffDelay(3, policy);
      const d10 = backoffDelay(10, policy);
      expect(d1).toBeGreaterThanOrEqual(50);
      expect(d1).toBeLessThanOrEqual(100);
      expect(d3).toBeGreaterThanOrEqual(200);
      expect(d3).toBeLessThanOrEqual(400);
      expect(d10).toBeGreaterThanOrEqual(500);
      expect(d10).toBeLessThanOrEqual(1000);
    }
  });
});

describe('withRetry', () => {
  const quick = { baseDelayMs: 1, maxDelayMs: 2 };

  it('retries retryable failures and returns the first success', async () => {
    const seen: number[] = [];
    const retries: [number, number][] = [];
    const result = await withRetry(
      async (attempt) => {
        seen.push(attempt);
        if (attempt < 3) throw Object.assign(new Error('busy'), { status: 503 });
        return 'ok';
      },
      { ...quick, onRetry: (_err, attempt, delay) => retries.push([attempt, delay]) },
    );
    expect(result).toBe('ok');
    expect(seen).toEqual([1, 2, 3]);
    expect(retries.map(([a]) => a)).toEqual([1, 2]);
    for (const [, delay] of retries) expect(delay).toBeLessThanOrEqual(2);
  });

  it('gives up after the configured attempts with the last error', async () => {
    let calls = 0;
    const err = await withRetry(
      async (attempt) => {
        calls++;
        throw withCode('ECONNRESET', `reset ${attempt}`);
      },
      { ...quick, attempts: 3 },
    ).catch((e: unknown) => e);
    expect(calls).toBe(3);
    expect((err as Error).message).toBe('reset 3');
  });

  it('uses the default of 4 attempts', async () => {
    expect(DEFAULT_RETRY.attempts).toBe(4);
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw Object.assign(new Error('down'), { statusCode: 500 });
        },
        quick,
      ),
    ).rejects.toThrow('down');
    expect(calls).toBe(4);
  });

  it('does not retry a non-retryable error', async () => {
    let calls = 0;
    await expect(
      withRetry(async () => {
        calls++;
        throw Object.assign(new Error('forbidden'), { status: 403 });
      }, quick),
    ).rejects.toThrow('forbidden');
    expect(calls).toBe(1);
  });

  it('honours a custom retryable predicate', async () => {
    let calls = 0;
    const out = await withRetry(
      async () => {
        calls++;
        if (calls === 1) throw new Error('flaky but plain');
        return calls;
      },
      { ...quick, retryable: (e) => (e as Error).message.startsWith('flaky') },
    );
    expect(out).toBe(2);
  });

  it('waits between attempts', async () => {
    const started = Date.now();
    let calls = 0;
    await withRetry(
      async () => {
        if (++calls < 3) throw withCode('ETIMEDOUT');
      },
      { attempts: 3, baseDelayMs: 40, maxDelayMs: 40 },
    );
    // Two waits of at least 20 ms each (full jitter keeps at least half the cap).
    expect(Date.now() - started).toBeGreaterThanOrEqual(38);
  });
});
