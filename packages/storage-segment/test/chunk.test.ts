import { pythonJsonSize } from '@tally/core';
import { SEGMENT_MESSAGE_LIMIT, chunkDict, maxChunkSize } from '@tally/storage-segment';
import { chunkMessageId, headerOverhead, pythonIsoTimestamp } from '../src/chunk.js';
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';

const items = (n: number) => Array.from({ length: n }, (_, i) => `item${i}`);

describe('chunkDict (metrics-utility "Latest" splitting)', () => {
  it('splits 3000 items at 32 KiB without overhead into 2821 + 179 (reference vector)', () => {
    const chunks = chunkDict({ test_list: items(3000) }, 32 * 1024);
    expect(chunks.map((c) => (c.test_list as string[]).length)).toEqual([2821, 179]);
    expect((chunks[0]!.test_list as string[])[2820]).toBe('item2820');
    expect((chunks[1]!.test_list as string[])[0]).toBe('item2821');
    // The first chunk is as full as it may be: one more item would not fit.
    expect(pythonJsonSize(chunks[0])).toBeLessThanOrEqual(32 * 1024);
    expect(pythonJsonSize({ test_list: items(2822) })).toBeGreaterThan(32 * 1024);
  });

  it('splits 2808 + 192 with ~161 bytes of header overhead (reference vector)', () => {
    const chunks = chunkDict({ test_list: items(3000) }, 32 * 1024 - 161);
    expect(chunks.map((c) => (c.test_list as string[]).length)).toEqual([2808, 192]);
  });

  it('measures the header like Python json.dumps and derives the limit from it', () => {
    const at = new Date('2024-03-11T07:59:01.458Z');
    expect(pythonIsoTimestamp(at)).toBe('2024-03-11T07:59:01.458000+00:00');
    const expected =
      '{"artifact_name": "a.json", "data": {}, "upload_timestamp": "2024-03-11T07:59:01.458000+00:00", ' +
      '"chunk_info": {"chunk_number": 0, "total_chunks": 0, "chunk_size": 0}}';
    expect(headerOverhead('a.json', {}, at)).toBe(expected.length);
    expect(maxChunkSize('a.json', {}, at)).toBe(SEGMENT_MESSAGE_LIMIT - expected.length);
    // The meta is merged into the header and costs bytes too; non-ASCII counts as \uXXXX (6 bytes).
    expect(headerOverhead('a.json', { messageId: 'm1' }, at)).toBe(expected.length + ', "message_id": "m1"'.length);
    expect(headerOverhead('é', {}, at) - headerOverhead('e', {}, at)).toBe(5);
  });

  it('the real header of a short artifact name (160 + name bytes) gives the reference 2808 + 192 split', () => {
    expect(headerOverhead('x', {}, new Date())).toBe(161);
    const chunks = chunkDict({ test_list: items(3000) }, maxChunkSize('x', {}, new Date()));
    expect(chunks.map((c) => (c.test_list as string[]).length)).toEqual([2808, 192]);
  });

  it('keeps dict values whole, drops scalars, sends a lone oversize item alone', () => {
    const big = 'x'.repeat(200);
    const chunks = chunkDict({ scalar: 1, nested: { a: big, b: big }, list: ['s1', big, 's2', 's3'], name: 'dropped' }, 100);
    expect(chunks).toEqual([{ nested: { a: big, b: big } }, { list: ['s1'] }, { list: [big] }, { list: ['s2', 's3'] }]);
  });

  it('a lone oversize first item is emitted by itself', () => {
    const big = 'y'.repeat(300);
    expect(chunkDict({ list: [big, 'a'] }, 100)).toEqual([{ list: [big] }, { list: ['a'] }]);
  });

  it('counts non-ASCII as \\uXXXX escapes when packing', () => {
    // '"é"' is 8 bytes in Python json ("\u00e9" plus quotes), 4 in UTF-8 JSON.
    const base = pythonJsonSize({ k: [] });
    const chunks = chunkDict({ k: ['é', 'é', 'é'] }, base + 8 + 2 + 8);
    expect(chunks.map((c) => (c.k as string[]).length)).toEqual([2, 1]);
  });

  it('a dict without list or dict values is one chunk, whole', () => {
    expect(chunkDict({ a: 1, b: 'x' }, 10)).toEqual([{ a: 1, b: 'x' }]);
    expect(chunkDict({}, 10)).toEqual([{}]);
  });

  it('refuses non-dict data with a StorageError naming segment', () => {
    expect(() => chunkDict([1, 2], 100)).toThrow(/storage segment: data must be a dict/);
    expect(() => chunkDict('x', 100)).toThrow(/dict/);
  });

  it('derives message ids as sha256 hex of "<id>_<i>"', () => {
    expect(chunkMessageId('abc', 2)).toBe(createHash('sha256').update('abc_2').digest('hex'));
    expect(chunkMessageId('abc', 1)).not.toBe(chunkMessageId('abc', 2));
  });
});
