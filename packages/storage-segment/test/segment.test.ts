import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StorageError, createLogger, pythonJsonSize } from '@tally/core';
import { isStore } from '@tally/storage';
import { SEGMENT_SDK_ENVELOPE, SegmentClient, SegmentStorage, type SegmentTrack, trackEventSize } from '@tally/storage-segment';
import { SegmentReceiver, recordingLogger } from '@tally/testkit';
import { chunkMessageId } from '../src/chunk.js';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

/** The fields of a received track event the tests look at. */
interface TrackEvent {
  type: string;
  event: string;
  anonymousId: string;
  messageId: string;
  properties: {
    artifact_name: string;
    upload_timestamp: string;
    chunk_info: { chunk_number: number; total_chunks: number; chunk_size: number };
    data: Record<string, unknown> & { test_list: string[] };
  };
}

const receiver = new SegmentReceiver();
beforeAll(async () => {
  await receiver.start();
});
afterAll(() => receiver.stop());
beforeEach(() => receiver.reset());

const items = (n: number) => Array.from({ length: n }, (_, i) => `item${i}`);

describe('SegmentStorage against a local batch receiver', () => {
  it('sends one track per chunk with properties, chunk_info and basic auth', async () => {
    const s = new SegmentStorage({ writeKey: 'wk-test-1234', host: receiver.url });
    try {
      await s.put('x', { dict: { test_list: items(3000), scalar: 5 } });
    } finally {
      await s.close();
    }
    const events = receiver.events as unknown as TrackEvent[];
    expect(events).toHaveLength(2);
    expect(receiver.requests[0]!.auth).toBe(`Basic ${Buffer.from('wk-test-1234:').toString('base64')}`);
    // 161 bytes of header for artifact "x" → the reference split 2808 + 192.
    expect(events.map((e) => e.properties.data.test_list.length)).toEqual([2808, 192]);
    expect(events.map((e) => e.properties.chunk_info)).toEqual([
      { chunk_number: 1, total_chunks: 2, chunk_size: expect.any(Number) },
      { chunk_number: 2, total_chunks: 2, chunk_size: expect.any(Number) },
    ]);
    for (const e of events) {
      expect(e.type).toBe('track');
      expect(e.event).toBe('Metrics Artifact Upload');
      expect(e.properties.artifact_name).toBe('x');
      expect(e.properties.upload_timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
      expect(e.properties.data.scalar).toBeUndefined();
      expect(e.properties.chunk_info.chunk_size).toBeLessThanOrEqual(32 * 1024 - 161);
    }
    // One anonymous id per put, shared by its chunks.
    expect(events[0]!.anonymousId).toMatch(/^[0-9a-f-]{36}$/);
    expect(events[1]!.anonymousId).toBe(events[0]!.anonymousId);
  });

  it('derives deterministic message ids from segmentMeta.messageId and a fresh anonymous id per put', async () => {
    const s = new SegmentStorage({ writeKey: 'wk-test-1234', host: receiver.url, event: 'Custom Event' });
    try {
      const r = await s.send('artifact.json', { dict: { a: { k: 1 }, b: { k: 2 } }, segmentMeta: { messageId: 'run-42' } });
      expect(r.messageIds).toEqual([chunkMessageId('run-42', 1), chunkMessageId('run-42', 2)]);
      await s.put('artifact.json', { dict: { a: { k: 3 } } });
    } finally {
      await s.close();
    }
    const events = receiver.events as unknown as TrackEvent[];
    expect(events).toHaveLength(3);
    expect(events[0]!.messageId).toBe(chunkMessageId('run-42', 1));
    expect(events[1]!.messageId).toBe(chunkMessageId('run-42', 2));
    expect(events[0]!.messageId).toMatch(/^[0-9a-f]{64}$/);
    // Without a message id base the SDK picks its own.
    expect(events[2]!.messageId).not.toMatch(/^[0-9a-f]{64}$/);
    expect(events.map((e) => e.event)).toEqual(['Custom Event', 'Custom Event', 'Custom Event']);
    expect(events.map((e) => e.properties.data)).toEqual([{ a: { k: 1 } }, { b: { k: 2 } }, { a: { k: 3 } }]);
    expect(events[2]!.anonymousId).not.toBe(events[0]!.anonymousId);
  });

  it('passes segmentMeta userId, timestamp and context through to every chunk', async () => {
    const at = new Date('2024-03-11T07:59:01.000Z');
    const s = new SegmentStorage({
      writeKey: 'wk-test-1234',
      host: receiver.url,
      segmentMeta: { userId: 'cluster-7', timestamp: at, context: { app: { name: 'tally' } } },
    });
    try {
      await s.put('m.json', { dict: { a: { x: 1 }, b: { y: 2 } } });
    } finally {
      await s.close();
    }
    const events = receiver.events as unknown as { userId: string; timestamp: string; context: { app?: { name: string } } }[];
    expect(events).toHaveLength(2);
    for (const e of events) {
      expect(e.userId).toBe('cluster-7');
      expect(e.timestamp).toBe(at.toISOString());
      expect(e.context.app).toEqual({ name: 'tally' });
    }
  });

  it('retries a 5xx and succeeds when the receiver recovers', async () => {
    receiver.status = (n) => (n === 1 ? 503 : 200);
    const s = new SegmentStorage({ writeKey: 'wk-test-1234', host: receiver.url, maxRetries: 3 });
    try {
      await s.put('r.json', { dict: { l: [1, 2, 3] } });
    } finally {
      await s.close();
    }
    expect(receiver.requests).toHaveLength(2);
    expect((receiver.events as unknown as TrackEvent[]).map((e) => e.properties.data)).toEqual([{ l: [1, 2, 3] }]);
  });

  it('a receiver that always fails makes put throw (never a silent success)', async () => {
    receiver.status = () => 500;
    const s = new SegmentStorage({ writeKey: 'wk-test-1234', host: receiver.url, maxRetries: 1 });
    try {
      const err = await s.put('f.json', { dict: { l: [1] } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect((err as StorageError).message).toMatch(/storage segment: put f.json: chunk 1\/1 was not delivered: \[500\]/);
      expect((err as StorageError).status).toBe(500);
      expect(receiver.requests.length).toBe(2);
    } finally {
      await s.close();
    }
  });

  it('a 4xx is not retried and fails the put', async () => {
    receiver.status = () => 400;
    const s = new SegmentStorage({ writeKey: 'wk-test-1234', host: receiver.url, maxRetries: 3 });
    try {
      await expect(s.put('b.json', { dict: { l: [1] } })).rejects.toThrow(/\[400\]/);
      expect(receiver.requests).toHaveLength(1);
    } finally {
      await s.close();
    }
  });

  it('an unreachable host fails the put after the retries', async () => {
    const dead = createServer();
    dead.listen(0, '127.0.0.1');
    await once(dead, 'listening');
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const s = new SegmentStorage({ writeKey: 'wk-test-1234', host: `http://127.0.0.1:${port}`, maxRetries: 1 });
    try {
      await expect(s.put('n.json', { dict: { l: [1] } })).rejects.toThrow(/storage segment: put n.json: chunk 1\/1 was not delivered/);
    } finally {
      await s.close();
    }
  });

  it('refuses filename, stream and buffer sources, and non-dict data', async () => {
    const s = new SegmentStorage({ writeKey: 'wk-test-1234', host: receiver.url });
    try {
      await expect(s.put('a', { filename: '/etc/hostname' })).rejects.toThrow('storage segment: put a: Segment accepts dicts');
      await expect(s.put('a', { stream: Readable.from(['x']) })).rejects.toThrow(/segment: put a: Segment accepts dicts .*not files, streams or tarballs/);
      await expect(s.put('a', { buffer: 'x' })).rejects.toThrow(StorageError);
      await expect(s.put('a', { dict: [1, 2] })).rejects.toThrow(/data must be a dict/);
    } finally {
      await s.close();
    }
    expect(receiver.requests).toHaveLength(0);
  });

  it('is a Sink, not a Store: nothing to read back, and the type guard says so', () => {
    const s = new SegmentStorage({ writeKey: 'wk-test-1234', host: receiver.url });
    expect(isStore(s)).toBe(false);
    expect('get' in s || 'glob' in s || 'exists' in s || 'remove' in s).toBe(false);
  });

  it('needs a write key; describe() and logs never show it', () => {
    expect(() => new SegmentStorage({ writeKey: '' })).toThrow(/METRICS_UTILITY_SEGMENT_WRITE_KEY/);
    expect(() => new SegmentStorage({ writeKey: 'k', host: 'not a url' })).toThrow(/not a URL/);
    const s = new SegmentStorage({ writeKey: 'super-secret-key', host: receiver.url });
    expect(JSON.stringify(s.describe())).not.toContain('super-secret-key');
    expect(s.describe()).toEqual({ backend: 'segment', host: receiver.url, event: 'Metrics Artifact Upload' });
    const lines: string[] = [];
    const log = createLogger({ format: 'json', stream: { write: (l: string) => lines.push(l) } as never });
    log.info('configured with super-secret-key');
    expect(lines.join('')).not.toContain('super-secret-key');
    const fromCfg = SegmentStorage.fromConfig({ segmentWriteKey: 'k2-secret', segmentHost: receiver.url });
    expect(fromCfg.describe().host).toBe(receiver.url);
  });
});

describe('SegmentClient, the SDK setup SegmentStorage and send-to-segment share', () => {
  const track: SegmentTrack = {
    userId: 'u-1',
    event: 'awx_data_upload',
    properties: { data: [{ 'caf\u00e9': '\u00fc'.repeat(200), n: 1.5 }, { n: 10 }], row_count: 2 },
    context: { app: { name: 'awx' } },
  };

  it('delivers one event; trackEventSize is never below the event the SDK sends, measured as the reference measures it', async () => {
    const { logger, lines } = recordingLogger();
    const client = new SegmentClient({ writeKey: 'wk-client-SECRET', host: receiver.url, logger });
    try {
      await client.deliver([track], () => 'the event');
    } finally {
      await client.close();
    }
    expect(receiver.events).toHaveLength(1);
    const sent = receiver.events[0]!;
    expect(sent).toMatchObject({ type: 'track', userId: 'u-1', event: 'awx_data_upload', properties: track.properties, context: { app: { name: 'awx' } } });
    // What the SDK added (message id, timestamp, library, _metadata) fits the allowance, with room left.
    const added = pythonJsonSize(sent) - pythonJsonSize({ type: 'track', ...track });
    expect(added).toBeGreaterThan(100);
    expect(added).toBeLessThanOrEqual(SEGMENT_SDK_ENVELOPE - 100);
    expect(pythonJsonSize(sent)).toBeLessThanOrEqual(trackEventSize(track));
    // The reference's measure (Python json.dumps) is never below the JSON actually sent.
    expect(Buffer.byteLength(JSON.stringify(sent))).toBeLessThan(pythonJsonSize(sent));
    // Debug lines for each request and answer, without the key or its Basic form.
    expect(lines.filter((l) => l.level === 'debug').map((l) => l.msg)).toEqual(['segment request', 'segment response']);
    const logged = JSON.stringify(lines);
    expect(logged).not.toContain('wk-client-SECRET');
    expect(logged).not.toContain(Buffer.from('wk-client-SECRET:').toString('base64'));
  });

  it('names the variable a missing key comes from; refuses to send once closed', async () => {
    expect(() => new SegmentClient({ writeKey: '', writeKeyVariable: 'SEGMENT_WRITE_KEY' })).toThrow('storage segment: write key not set (SEGMENT_WRITE_KEY)');
    const client = new SegmentClient({ writeKey: 'wk-closed', host: receiver.url });
    await client.close();
    await expect(client.deliver([track], () => 'x')).rejects.toThrow('storage segment: storage is closed');
    expect(receiver.requests).toHaveLength(0);
  });
});
