import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:https';
import { join } from 'node:path';
import { ConfigError, StorageError, type TempDir, tempdir } from '@tally/core';
import { isStore } from '@tally/storage';
import { CrcMutualStorage, type CrcMutualOptions, PAYLOAD_CONTENT_TYPE } from '@tally/storage-crc';
import { IngressUploader, preparePayload } from '../src/upload.js';
import { metricsUtilityTarballs } from '@tally/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type TestPki, makePki } from './certs.js';
import { ConnectProxy, Ingress, listen, peerCommonName, shutdown, urlOf } from './servers.js';

let dir: TempDir;
let pki: TestPki;
let server: Server;
const ingress = new Ingress();
const proxy = new ConnectProxy();
let uploadUrl: string;

beforeAll(async () => {
  dir = await tempdir('crc-mtls');
  pki = makePki(dir.path);
  ingress.authorize = async (req) => {
    const peer = peerCommonName(req);
    return peer ? { ok: true, peer } : { ok: false, status: 401, body: 'client certificate required' };
  };
  server = createServer(
    {
      key: readFileSync(pki.serverKey),
      cert: readFileSync(pki.serverCert),
      ca: readFileSync(pki.caCert),
      requestCert: true,
      rejectUnauthorized: true,
    },
    ingress.handler,
  );
  await listen(server);
  uploadUrl = `${urlOf(server, 'https')}/api/ingress/v1/upload`;
  await proxy.start();
});

afterAll(async () => {
  await shutdown(server);
  await proxy.stop();
  await dir?.remove();
});

beforeEach(() => {
  ingress.reset();
  proxy.tunnels = [];
});

const fast = { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 };

function mutual(extra: Partial<CrcMutualOptions> = {}): CrcMutualStorage {
  return new CrcMutualStorage({
    ingressUrl: uploadUrl,
    certPath: pki.clientCert,
    keyPath: pki.clientKey,
    verifyCertPath: pki.caCert,
    retry: fast,
    ...extra,
  });
}

async function using<T>(s: CrcMutualStorage, fn: (s: CrcMutualStorage) => Promise<T>): Promise<T> {
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

describe('CrcMutualStorage (mutual TLS) against a loopback https ingress', () => {
  it('uploads a real tarball with the client certificate', async () => {
    const { base, names } = metricsUtilityTarballs();
    const tarball = join(base, names[0]!);
    await using(mutual(), (s) => s.put('bundle.tar.gz', { filename: tarball }));
    expect(ingress.uploads).toHaveLength(1);
    const u = ingress.uploads[0]!;
    expect(u.peer).toBe('collector-01');
    expect(u.field).toBe('file');
    expect(u.filename).toBe('bundle.tar.gz');
    expect(u.contentType).toBe(PAYLOAD_CONTENT_TYPE);
    expect(u.bytes.equals(readFileSync(tarball))).toBe(true);
    expect(u.authorization).toBeUndefined();
    expect(u.userAgent).toMatch(/^tally\/\S+ \(metrics-utility compatible\)$/);
  });

  it('accepts one PEM file holding both certificate and key', async () => {
    await using(mutual({ certPath: pki.clientCombined, keyPath: undefined }), async (s) => {
      await s.put('c.json', { dict: { k: 'v' } });
      expect(s.describe()).toEqual({ backend: 'crc-mutual', ingressUrl: uploadUrl, certPath: pki.clientCombined, verifyCertPath: pki.caCert });
    });
    expect(ingress.uploads.map((u) => [u.peer, u.bytes.toString()])).toEqual([['collector-01', '{"k": "v"}']]);
  });

  it('a certificate from another CA is refused with a clear StorageError', async () => {
    await using(mutual({ certPath: pki.otherClientCert, keyPath: pki.otherClientKey }), async (s) => {
      const err = await s.put('x.json', { dict: {} }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect((err as Error).message).toMatch(/^storage crc-mutual: put x.json: upload to https:\/\/127\.0\.0\.1:\d+\/api\/ingress\/v1\/upload failed: /);
      expect((err as Error).message).toMatch(/may have refused the client certificate .*intruder\.crt/);
    });
    expect(ingress.uploads).toHaveLength(0);
  });

  it('no client certificate at all is refused with a clear StorageError', async () => {
    // CrcMutualStorage cannot be built without a certificate; drive the shared uploader bare.
    const uploader = new IngressUploader({
      backend: 'crc-mutual',
      ingressUrl: uploadUrl,
      tls: { ca: readFileSync(pki.caCert, 'utf8') },
      retry: fast,
      networkHint: 'the server may have refused the connection without a client certificate',
    });
    const payload = await preparePayload('crc-mutual', 'n.json', { dict: {} });
    try {
      const err = await uploader.upload('n.json', payload).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect((err as Error).message).toMatch(/storage crc-mutual: put n.json: upload to .* failed: .*without a client certificate/);
    } finally {
      await uploader.close();
    }
    expect(ingress.uploads).toHaveLength(0);
  });

  it('an ingress certificate the bundle does not vouch for is a TLS verification error, not retried', async () => {
    await using(mutual({ verifyCertPath: pki.otherClientCert }), async (s) => {
      const err = await s.put('v.json', { dict: {} }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect((err as Error).message).toMatch(/could not be verified \(\w+\); point METRICS_UTILITY_CRC_VERIFY_CERT_PATH/);
    });
    expect(ingress.requests).toBe(0);
  });

  it('retries 5xx and then succeeds over the same mTLS setup', async () => {
    ingress.decide = (n) => (n === 1 ? { status: 500, body: 'oops' } : 'accept');
    await using(mutual(), (s) => s.put('r.tar.gz', { buffer: 'abc' }));
    expect(ingress.requests).toBe(2);
    expect(ingress.uploads.map((u) => u.bytes.toString())).toEqual(['abc']);
  });

  it('413 names the payload size', async () => {
    ingress.decide = () => ({ status: 413, body: '' });
    await using(mutual(), async (s) => {
      await expect(s.put('big.tar.gz', { buffer: Buffer.alloc(2048) })).rejects.toThrow(/too large \(413\): 2048 bytes/);
    });
    expect(ingress.requests).toBe(1);
  });

  it('tunnels through the proxy with the client certificate end to end', async () => {
    await using(mutual({ proxyUrl: urlOf(proxy.server) }), (s) => s.put('p.json', { dict: { p: 1 } }));
    expect(proxy.tunnels).toEqual([`127.0.0.1:${new URL(uploadUrl).port}`]);
    expect(ingress.uploads.map((u) => u.peer)).toEqual(['collector-01']);
  });

  it('checks certificate files up front', () => {
    expect(() => mutual({ certPath: join(pki.dir, 'missing.crt') })).toThrow(ConfigError);
    expect(() => mutual({ certPath: join(pki.dir, 'missing.crt') })).toThrow(/METRICS_UTILITY_CRC_CERT_PATH/);
    expect(() => mutual({ keyPath: pki.otherClientKey })).toThrow(/does not belong to the certificate/);
    expect(() => mutual({ certPath: pki.clientCert, keyPath: undefined })).toThrow(/holds no PEM private key/);
    expect(() => mutual({ certPath: pki.clientKey, keyPath: pki.clientKey })).toThrow(/holds no PEM certificate/);
    expect(() => mutual({ ingressUrl: uploadUrl.replace('https:', 'http:') })).toThrow(/plain http/);
  });

  it('is a Sink, not a Store, and its describe() holds paths, never key material', async () => {
    await using(mutual(), async (s) => {
      expect(isStore(s)).toBe(false);
      const d = JSON.stringify(s.describe());
      expect(d).not.toContain('PRIVATE KEY');
      expect(s.describe()).toMatchObject({ certPath: pki.clientCert, keyPath: pki.clientKey });
    });
  });
});
