import { DataSetSink, PushError, pushRecords } from '@tally/storage-crc';
import { DataSetReceiver } from '@tally/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const TOKEN = 'data-set-token-7f3a9c';
let rx: DataSetReceiver;
const fast = { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 };

beforeAll(async () => {
  rx = await new DataSetReceiver(TOKEN).start();
});
afterAll(() => rx?.stop());
beforeEach(() => rx.reset());

const sink = (over: Partial<ConstructorParameters<typeof DataSetSink>[0]> = {}) =>
  new DataSetSink({ url: `${rx.url}/data/`, dataGroup: 'automation', dataSet: 'jobs', token: TOKEN, retry: fast, ...over });
const records = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i + 1 }));

describe('DataSetSink + pushRecords', () => {
  it('sends chunks of 100 by default to {url}/{data-group}/{data-set} with the bearer token', async () => {
    const s = sink();
    try {
      const sent = await pushRecords(s, records(250));
      expect(sent).toMatchObject({ records: 250, chunks: 3 });
    } finally {
      await s.close();
    }
    expect(rx.chunks.map((c) => [c.path, c.records.length, c.contentType])).toEqual([
      ['/data/automation/jobs', 100, 'application/json'],
      ['/data/automation/jobs', 100, 'application/json'],
      ['/data/automation/jobs', 50, 'application/json'],
    ]);
    expect(rx.records.map((r) => r.id)).toEqual(records(250).map((r) => r.id));
  });

  it('gzips bodies over 2 KiB (unless told not to); the receiver gets the same records', async () => {
    const big = Array.from({ length: 100 }, (_, i) => ({ id: i + 1, text: 'x'.repeat(40) }));
    for (const gzip of [undefined, false]) {
      rx.reset();
      const s = sink(gzip === false ? { gzip } : {});
      try {
        await pushRecords(s, [...big, { id: 101 }]);
      } finally {
        await s.close();
      }
      expect(rx.chunks.map((c) => c.contentEncoding)).toEqual(gzip === false ? [undefined, undefined] : ['gzip', undefined]);
      expect(rx.records).toEqual([...big, { id: 101 }]);
    }
  });

  it('retries 500, 429 and a dropped connection; every record arrives exactly once, with the same idempotency key per chunk', async () => {
    rx.faults = [{ status: 500 }, 'accept', { status: 429, retryAfter: '0' }, 'drop', 'accept', { status: 503 }, 'accept'];
    const s = sink();
    try {
      expect(await pushRecords(s, records(25), 10)).toMatchObject({ records: 25, chunks: 3 });
    } finally {
      await s.close();
    }
    expect(rx.log.map((l) => l.split(' → ')[1])).toEqual(['500', '200', '429', 'drop', '200', '503', '200']);
    expect(rx.records.map((r) => r.id)).toEqual(records(25).map((r) => r.id));
    // attempts 1-2 are chunk 1, 3-5 chunk 2, 6-7 chunk 3
    expect(rx.keys[0]).toBe(rx.keys[1]);
    expect(new Set(rx.keys.slice(2, 5)).size).toBe(1);
    expect(rx.keys[5]).toBe(rx.keys[6]);
    expect(new Set([rx.keys[0], rx.keys[2], rx.keys[5]]).size).toBe(3);
  });

  it('stops at a 401 naming the chunk and what was sent before it; nothing after it is sent', async () => {
    const s = sink();
    rx.faults = ['accept'];
    let err: unknown;
    try {
      // The token goes bad after the first chunk.
      const gen = (async function* () {
        for (const r of records(30)) {
          if (r.id === 11) rx.token = 'rotated';
          yield r;
        }
      })();
      await pushRecords(s, gen, 10);
    } catch (e) {
      err = e;
    } finally {
      rx.token = TOKEN;
      await s.close();
    }
    expect(err).toBeInstanceOf(PushError);
    const e = err as PushError;
    expect(e.chunk).toBe(2);
    expect(e.sent).toMatchObject({ records: 10, chunks: 1 });
    expect(e.status).toBe(401);
    expect(e.message).toMatch(/chunk 2 \(records 11–20\): POST http:\/\/127\.0\.0\.1:\d+\/data\/automation\/jobs answered 401 Unauthorized: .*bad bearer token/);
    expect(e.message).toMatch(/sent before it: 1 chunk\(s\), 10 record\(s\); chunk 2 \(records 11–20\) and everything after it were not sent/);
    expect(e.message).not.toContain(TOKEN);
    expect(rx.log).toHaveLength(2); // a 401 is not retried
  });

  it('gives up after the last attempt and says so', async () => {
    rx.faults = [{ status: 502 }, { status: 502 }, { status: 502 }, { status: 502 }];
    const s = sink();
    await expect(pushRecords(s, records(3))).rejects.toThrow(/chunk 1 \(records 1–3\): .* answered 502 .*gave up after 4 attempts.*sent before it: 0 chunk/);
    await s.close();
    expect(rx.chunks).toHaveLength(0);
  });

  it('--dry-run prints method, URL, headers with the token masked, and the body; sends nothing', async () => {
    const printed: string[] = [];
    const s = sink({ dryRun: { print: (t) => printed.push(t) } });
    await pushRecords(s, records(3), 2);
    await s.close();
    expect(rx.log).toEqual([]);
    expect(printed).toHaveLength(2);
    expect(printed[0]).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/data\/automation\/jobs\n/);
    expect(printed[0]).toContain('authorization: Bearer ****\n');
    expect(printed[0]).toContain('content-type: application/json\n');
    expect(printed[0]!.endsWith('\n\n[{"id":1},{"id":2}]\n')).toBe(true);
    expect(printed.join('')).not.toContain(TOKEN);
  });

  it('refuses plain http off loopback, bad names and bad tokens', async () => {
    expect(() => sink({ url: 'http://example.com/data' })).toThrow(/must be https/);
    expect(() => sink({ dataGroup: '../x' })).toThrow(/data-group "..\/x" must be a name/);
    expect(() => sink({ token: 'two words' })).toThrow(/token must be a non-empty string without spaces/);
    const s = sink();
    await expect(pushRecords(s, [], 0)).rejects.toThrow(/chunk size must be a whole number/);
    await s.close();
  });
});
