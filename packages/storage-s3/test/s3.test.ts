import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ConfigError, StorageError } from '@tally/core';
import { S3Storage, type S3Options } from '@tally/storage-s3';
import { keyPrefix } from '../src/s3.js';
import { storageContract } from '@tally/testkit';
import S3rver from 's3rver';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from './fault-proxy.js';

const BUCKET = 'metricsutilitys3';
let server: S3rver;
let endpoint: string;
let s3Port: number;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-s3rver-'));
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: BUCKET, configs: [] }] });
  const addr = await server.run();
  s3Port = addr.port;
  endpoint = `http://127.0.0.1:${s3Port}`;
});
afterAll(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const fast = { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 };
const make = (over: Partial<S3Options> = {}) =>
  new S3Storage({ bucket: BUCKET, endpoint, region: 'us-east-1', accessKey: 'S3RVER', secretKey: 'S3RVER', retry: fast, ...over });

storageContract('s3 on s3rver', () => make({ secretKey: 'S3RVER' }), { starCrossesSlash: true, tempCopies: true, secrets: ['S3RVER'] });
storageContract('s3 under a ship path', () => make({ prefix: '/contract/ship/' }), { starCrossesSlash: true, tempCopies: true, secrets: ['S3RVER'] });

describe('S3 key layout: {ship_path}/name, as metrics-utility', () => {
  const tarball = 'data/2024/03/11/u-2024-03-11-075901+0000-2024-03-11-080752+0000-0.tar.gz';

  it('normalises the ship path into a key prefix: no leading slash, empty is the bucket root, .. refused', () => {
    expect(keyPrefix('/var/lib/tally/')).toBe('var/lib/tally');
    expect(keyPrefix('metrics//billing/./x')).toBe('metrics/billing/x');
    expect(keyPrefix('')).toBe('');
    expect(keyPrefix('/')).toBe('');
    expect(keyPrefix(undefined)).toBe('');
    expect(() => keyPrefix('a/../b')).toThrow(ConfigError);
    expect(() => make({ prefix: '../up' })).toThrow(/METRICS_UTILITY_SHIP_PATH|"\.\."/);
  });

  it('with a ship path, every operation uses {ship_path}/{name} and names come back without it', async () => {
    const root = make();
    const shipped = make({ prefix: '/layout/billing/' });
    try {
      await shipped.put(tarball, { buffer: 'under the ship path' });
      expect(await root.glob('layout/**')).toEqual([`layout/billing/${tarball}`]);
      expect(await root.exists(tarball)).toBe(false);
      expect(await shipped.exists(tarball)).toBe(true);
      expect(await shipped.glob('data/2024/03/*/*.tar.gz', { since: new Date('2024-03-11T00:00:00Z') })).toEqual([tarball]);
      // Written by the reference (or anyone) at the full key: read back by name.
      await root.put('layout/billing/reports/2024/03/CCSP-2024-03.xlsx', { buffer: 'xlsx' });
      expect(await shipped.glob('reports/**')).toEqual(['reports/2024/03/CCSP-2024-03.xlsx']);
      await using local = await shipped.get('reports/2024/03/CCSP-2024-03.xlsx');
      expect(await readFile(local.path, 'utf8')).toBe('xlsx');
      const missing = await shipped.get('rollups/none.parquet').catch((e: unknown) => e);
      expect((missing as Error).message).toContain('s3://metricsutilitys3/layout/billing/rollups/none.parquet');
      await shipped.remove(tarball);
      expect(await root.glob('layout/billing/data/**')).toEqual([]);
      expect(shipped.describe()).toMatchObject({ prefix: 'layout/billing' });
    } finally {
      await root.close();
      await shipped.close();
    }
  });

  it('stat tells size and ETag from a HEAD request (no download); a missing object is named', async () => {
    const s = make({ prefix: 'statlayout' });
    try {
      await s.put(tarball, { buffer: 'twelve bytes' });
      const st = await s.stat(tarball);
      expect(st.size).toBe(12);
      expect(st.etag).toMatch(/^"?[0-9a-f]{32}"?$/);
      await s.put(tarball, { buffer: 'other twelve' });
      expect((await s.stat(tarball)).etag).not.toBe(st.etag);
      const missing = await s.stat('data/none.tar.gz').catch((e: unknown) => e);
      expect((missing as Error).message).toContain('s3://metricsutilitys3/statlayout/data/none.tar.gz: no such object');
    } finally {
      await s.close();
    }
  });

  it('without a ship path, keys start at the bucket root (never with a slash)', async () => {
    const root = make({ prefix: '' });
    try {
      await root.put(`rootlayout/${tarball}`, { buffer: 'x' });
      expect(await root.glob('rootlayout/data/**')).toEqual([`rootlayout/${tarball}`]);
      const under = make({ prefix: 'rootlayout' });
      expect(await under.glob('data/**')).toEqual([tarball]);
      await under.close();
      expect(root.describe()).not.toHaveProperty('prefix');
    } finally {
      await root.close();
    }
  });
});

describe('S3Storage configuration', () => {
  it('needs a bucket', () => {
    expect(() => new S3Storage({ bucket: '' })).toThrow(ConfigError);
    expect(() => new S3Storage({ bucket: '' })).toThrow(/METRICS_UTILITY_BUCKET_NAME/);
  });
  it('needs both keys or neither', () => {
    expect(() => new S3Storage({ bucket: 'b', accessKey: 'AKIA' })).toThrow(/METRICS_UTILITY_BUCKET_SECRET_KEY/);
    expect(() => new S3Storage({ bucket: 'b', secretKey: 'shh' })).toThrow(ConfigError);
    expect(() => new S3Storage({ bucket: 'b' })).not.toThrow();
  });
  it('refuses an endpoint that is not an http(s) URL', () => {
    expect(() => new S3Storage({ bucket: 'b', endpoint: 'localhost:9000' })).toThrow(/not a URL|http/);
    expect(() => new S3Storage({ bucket: 'b', endpoint: 'ftp://x' })).toThrow(/http/);
  });
  it('describe() shows where, never the keys', () => {
    const d = new S3Storage({ bucket: 'b', endpoint: 'https://s3.example.com', accessKey: 'AKIAEXAMPLE', secretKey: 'top-secret-value' }).describe();
    expect(d).toEqual({ backend: 's3', bucket: 'b', endpoint: 'https://s3.example.com', region: 'us-east-1', staticKeys: true });
  });
});

describe('S3Storage with the default AWS credential chain', () => {
  const saved = { ...process.env };
  beforeAll(() => {
    for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
    // Keep the chain on this machine: no instance metadata, no profile files.
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'no-credentials');
    process.env.AWS_CONFIG_FILE = join(dir, 'no-config');
  });
  afterAll(() => {
    process.env = saved;
  });

  it('uses keys from the environment when none are configured', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
    const s = new S3Storage({ bucket: BUCKET, endpoint, retry: fast });
    try {
      expect(s.describe().staticKeys).toBe(false);
      await s.put('chain/env.txt', { buffer: 'via env' });
      expect(await s.exists('chain/env.txt')).toBe(true);
    } finally {
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
      await s.close();
    }
  });

  it('without any credentials fails naming the two variables', async () => {
    const s = new S3Storage({ bucket: BUCKET, endpoint, retry: fast });
    try {
      await expect(s.put('chain/none.txt', { buffer: 'x' })).rejects.toThrow(
        /storage s3: put .* no AWS credentials found; set METRICS_UTILITY_BUCKET_ACCESS_KEY and METRICS_UTILITY_BUCKET_SECRET_KEY/,
      );
    } finally {
      await s.close();
    }
  });
});

describe('S3Storage through a fault proxy', () => {
  let proxy: FaultProxy;
  let storage: S3Storage;
  beforeAll(async () => {
    proxy = await startFaultProxy(s3Port);
  });
  afterAll(async () => {
    await proxy?.close();
  });
  afterEach(async () => {
    proxy.failNext(0, '503');
    proxy.seen.length = 0;
    await storage?.close();
  });

  it('uses path-style addressing and sends no payload checksum by default on a custom endpoint', async () => {
    storage = make({ endpoint: proxy.endpoint });
    await storage.put('style/a.json', { dict: { a: 1 } });
    const put = proxy.seen.find((r) => r.method === 'PUT')!;
    expect(put.url.split('?')[0]).toBe(`/${BUCKET}/style/a.json`);
    expect(put.headers['content-type']).toBe('application/json');
    expect(Object.keys(put.headers).filter((h) => h.startsWith('x-amz-checksum-'))).toEqual([]);
    // …but Content-MD5 of the exact body, so the server can refuse a damaged upload.
    expect(put.headers['content-md5']).toBe(createHash('md5').update('{"a": 1}').digest('base64'));
  });

  it('sends the key {ship_path}/{name} on the wire, without a leading or doubled slash', async () => {
    storage = make({ endpoint: proxy.endpoint, prefix: '/wire/ship/' });
    await storage.put('data/2024/03/11/t.tar.gz', { buffer: 'x' });
    const put = proxy.seen.find((r) => r.method === 'PUT')!;
    expect(put.url.split('?')[0]).toBe(`/${BUCKET}/wire/ship/data/2024/03/11/t.tar.gz`);
    proxy.seen.length = 0;
    expect(await storage.glob('data/*')).toEqual(['data/2024/03/11/t.tar.gz']);
    expect(decodeURIComponent(proxy.seen.find((r) => r.method === 'GET')!.url)).toContain('prefix=wire/ship/data/');
  });

  it('sends checksums when asked (checksum: WHEN_SUPPORTED)', async () => {
    storage = make({ endpoint: proxy.endpoint, checksum: 'WHEN_SUPPORTED' });
    await storage.put('style/b.json', { dict: { b: 2 } });
    const put = proxy.seen.find((r) => r.method === 'PUT')!;
    expect(Object.keys(put.headers).some((h) => h.startsWith('x-amz-checksum-'))).toBe(true);
    expect(JSON.parse(await readFile((await storage.get('style/b.json')).path, 'utf8'))).toEqual({ b: 2 });
  });

  it('retries 503s and succeeds', async () => {
    storage = make({ endpoint: proxy.endpoint });
    proxy.failNext(2, '503');
    await storage.put('retry/503.txt', { buffer: 'after two 503s' });
    expect(proxy.seen.filter((r) => r.method === 'PUT')).toHaveLength(3);
    proxy.failNext(1, '503');
    await using local = await storage.get('retry/503.txt');
    expect(await readFile(local.path, 'utf8')).toBe('after two 503s');
  });

  it('retries reset connections, also for streams (spooled) and globs', async () => {
    storage = make({ endpoint: proxy.endpoint });
    proxy.failNext(2, 'reset');
    await storage.put('retry/reset.txt', { stream: Readable.from([Buffer.from('streamed '), Buffer.from('once')]) });
    expect(proxy.seen.filter((r) => r.method === 'PUT')).toHaveLength(3);
    proxy.failNext(1, 'reset');
    expect(await storage.glob('retry/res*')).toEqual(['retry/reset.txt']);
    const local = await storage.get('retry/reset.txt');
    expect(await readFile(local.path, 'utf8')).toBe('streamed once');
    await local.release();
  });

  it('a server that always fails gives a StorageError after the configured attempts, never success', async () => {
    storage = make({ endpoint: proxy.endpoint });
    proxy.failNext(Number.POSITIVE_INFINITY, '503');
    const err = await storage.put('down/x.txt', { buffer: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).backend).toBe('s3');
    expect((err as StorageError).status).toBe(503);
    expect((err as Error).message).toMatch(/put s3:\/\/metricsutilitys3\/down\/x\.txt failed: HTTP 503/);
    expect(proxy.seen).toHaveLength(4);
    // exists() must not turn a failing server into "not there".
    await expect(storage.exists('down/x.txt')).rejects.toThrow(StorageError);
    await expect(storage.glob('down/*')).rejects.toThrow(StorageError);
  });

  it('does not retry a client error (404 NoSuchBucket)', async () => {
    storage = make({ endpoint: proxy.endpoint, bucket: 'no-such-bucket', secretKey: 'a-secret-value' });
    const err = await storage.put('auth/x.txt', { buffer: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).status).toBe(404);
    expect((err as Error).message).toMatch(/s3:\/\/no-such-bucket\/auth\/x\.txt failed: HTTP 404 NoSuchBucket/);
    expect((err as Error).message).not.toContain('a-secret-value');
    expect(proxy.seen).toHaveLength(1);
  });

  it('times out a server that never answers, and retries', async () => {
    storage = make({ endpoint: proxy.endpoint, readTimeoutMs: 300, retry: { ...fast, attempts: 2 } });
    proxy.failNext(Number.POSITIVE_INFINITY, 'hang');
    const started = Date.now();
    await expect(storage.exists('hang/x')).rejects.toThrow(StorageError);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(proxy.seen).toHaveLength(2);
  });

  it('refuses a connection to a closed port quickly', async () => {
    const closed = await startFaultProxy(s3Port);
    const deadEndpoint = closed.endpoint;
    await closed.close();
    storage = make({ endpoint: deadEndpoint, connectTimeoutMs: 500, retry: { ...fast, attempts: 2 } });
    await expect(storage.put('x', { buffer: 'x' })).rejects.toThrow(/storage s3: put .*failed/);
  });

  // s3rver's own ListObjectsV2 continuation tokens need DES, which OpenSSL 3 refuses;
  // the proxy pages s3rver's full listing instead (see fault-proxy.ts).
  it('lists page by page', async () => {
    storage = make({ endpoint: proxy.endpoint, listPageSize: 2 });
    for (let i = 0; i < 5; i++) await storage.put(`paged/k${i}.txt`, { buffer: String(i) });
    await storage.put('paged/other.txt', { buffer: 'x' });
    proxy.pageLists(true);
    proxy.seen.length = 0;
    expect(await storage.glob('paged/k*.txt')).toEqual([0, 1, 2, 3, 4].map((i) => `paged/k${i}.txt`));
    const lists = proxy.seen.filter((r) => r.method === 'GET');
    expect(lists).toHaveLength(3);
    expect(lists[1]!.url).toContain('continuation-token=');
    proxy.pageLists(false);
  });

  it('restarts a multipart upload whose part failed, and aborts the broken one', async () => {
    storage = make({ endpoint: proxy.endpoint, partSize: 5 * 1024 * 1024, queueSize: 1 });
    const data = randomBytes(11 * 1024 * 1024);
    proxy.failNext(1, 'reset', (r) => r.url.includes('partNumber=2'));
    await storage.put('big/retried.bin', { buffer: data });
    expect(proxy.seen.filter((r) => r.method === 'POST' && /[?&]uploads/.test(r.url))).toHaveLength(2);
    expect(proxy.seen.filter((r) => r.method === 'DELETE' && r.url.includes('uploadId='))).toHaveLength(1);
    await using local = await storage.get('big/retried.bin');
    expect((await readFile(local.path)).equals(data)).toBe(true);
  });

  it('uploads 50 MB as a multipart upload, byte for byte', async () => {
    storage = make({ endpoint: proxy.endpoint, partSize: 8 * 1024 * 1024, queueSize: 2 });
    const local = join(dir, 'big.bin');
    const data = randomBytes(50 * 1024 * 1024);
    await writeFile(local, data);
    const want = createHash('sha256').update(data).digest('hex');
    await storage.put('big/fifty.bin', { filename: local });
    expect(proxy.seen.filter((r) => r.method === 'POST' && r.url.includes('uploads'))).toHaveLength(1);
    expect(proxy.seen.filter((r) => r.method === 'PUT' && r.url.includes('partNumber='))).toHaveLength(7);
    const got = await storage.get('big/fifty.bin');
    const h = createHash('sha256');
    for await (const chunk of createReadStream(got.path)) h.update(chunk as Buffer);
    expect(h.digest('hex')).toBe(want);
    await got.release();
    expect(existsSync(got.path)).toBe(false);
    await rm(local);
  });
});
