import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ConfigError, StorageError, createLogger, tempdir } from '@tally/core';
import { CrcStorage, type CrcOptions, PAYLOAD_CONTENT_TYPE } from '@tally/storage-crc';
import { issuerFromTokenUrl } from '../src/token.js';
import { isStore } from '@tally/storage';
import { metricsUtilityTarballs } from '@tally/testkit';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AUDIENCE, CLIENT_ID, CLIENT_SECRET, ConnectProxy, Ingress, OidcServer, listen, shutdown, urlOf } from './servers.js';

const oidc = new OidcServer();
const ingress = new Ingress();
const proxy = new ConnectProxy();
let ingressServer: Server;
/** Tokens the ingress should treat as revoked. */
const revoked = new Set<string>();

beforeAll(async () => {
  await oidc.start();
  const jwks = createRemoteJWKSet(new URL(`${oidc.issuer}/jwks`));
  ingress.authorize = async (req) => {
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!token || revoked.has(token)) return { ok: false, status: 401, body: '{"errors":[{"detail":"invalid token"}]}' };
    try {
      await jwtVerify(token, jwks, { issuer: oidc.issuer, audience: AUDIENCE });
      return { ok: true };
    } catch (err) {
      return { ok: false, status: 401, body: JSON.stringify({ errors: [{ detail: String(err) }] }) };
    }
  };
  ingressServer = createServer(ingress.handler);
  await listen(ingressServer);
  await proxy.start();
});

afterAll(async () => {
  await shutdown(ingressServer);
  await oidc.stop();
  await proxy.stop();
});

beforeEach(() => {
  ingress.reset();
  oidc.tokenRequests = 0;
  oidc.ttl = 600;
  oidc.failTokenRequests = 0;
  revoked.clear();
  proxy.tunnels = [];
  proxy.auth = [];
});

const fast = { attempts: 3, baseDelayMs: 10, maxDelayMs: 20 };

function crc(extra: Partial<CrcOptions> = {}): CrcStorage {
  return new CrcStorage({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    ingressUrl: `${urlOf(ingressServer)}/api/ingress/v1/upload`,
    ssoUrl: `${oidc.issuer}/token`,
    allowInsecureHttp: true,
    retry: fast,
    ...extra,
  });
}

async function using<T>(s: CrcStorage, fn: (s: CrcStorage) => Promise<T>): Promise<T> {
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

describe('CrcStorage (service account) against oidc-provider and a loopback ingress', () => {
  it('uploads a real tarball and a dict as multipart field "file", with one cached token for both', async () => {
    const { base, names } = metricsUtilityTarballs();
    const tarball = join(base, names[0]!);
    await using(crc(), async (s) => {
      await s.put('artifact-1.tar.gz', { filename: tarball });
      await s.put('config.json', { dict: { a: 'é', n: [1, 2] } });
      expect(s.tokensIssued).toBe(1);
    });
    expect(oidc.tokenRequests).toBe(1);
    expect(ingress.uploads).toHaveLength(2);
    const [file, dict] = ingress.uploads;
    expect(file!.field).toBe('file');
    expect(file!.filename).toBe('artifact-1.tar.gz');
    expect(file!.contentType).toBe(PAYLOAD_CONTENT_TYPE);
    expect(file!.bytes.equals(readFileSync(tarball))).toBe(true);
    expect(file!.userAgent).toMatch(/^tally\/\d+\.\d+\.\d+ \(metrics-utility compatible\)$/);
    expect(dict!.filename).toBe('config.json');
    expect(dict!.bytes.toString()).toBe('{"a": "\\u00e9", "n": [1, 2]}');
    // Both uploads carried the same verified JWT.
    expect(new Set(ingress.tokensSeen).size).toBe(1);
  });

  it('uploads stream and buffer sources byte for byte', async () => {
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    await using(crc(), async (s) => {
      await s.put('s.tar.gz', { stream: Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]) });
      await s.put('b.tar.gz', { buffer: bytes });
    });
    expect(ingress.uploads.map((u) => u.filename)).toEqual(['s.tar.gz', 'b.tar.gz']);
    for (const u of ingress.uploads) expect(u.bytes.equals(bytes)).toBe(true);
  });

  it('works with OpenID discovery on the issuer too', async () => {
    await using(crc({ issuerUrl: oidc.issuer, ssoUrl: 'https://unused.invalid/token' }), async (s) => {
      await s.put('d.json', { dict: { k: 1 } });
      expect(s.describe().issuerUrl).toBe(`${oidc.issuer}/`);
    });
    expect(ingress.uploads).toHaveLength(1);
  });

  it('refreshes the token once when the ingress rejects a revoked token, then succeeds', async () => {
    await using(crc(), async (s) => {
      await s.put('one.json', { dict: { k: 1 } });
      revoked.add(ingress.tokensSeen[0]!);
      await s.put('two.json', { dict: { k: 2 } });
      expect(s.tokensIssued).toBe(2);
    });
    expect(oidc.tokenRequests).toBe(2);
    expect(ingress.tokensSeen).toHaveLength(3);
    expect(ingress.tokensSeen[1]).toBe(ingress.tokensSeen[0]);
    expect(ingress.tokensSeen[2]).not.toBe(ingress.tokensSeen[0]);
    expect(ingress.uploads.map((u) => u.filename)).toEqual(['one.json', 'two.json']);
  });

  it('fetches a new token when the cached one is about to expire', async () => {
    oidc.ttl = 2; // cached for 1.5 s
    await using(crc(), async (s) => {
      await s.put('a.json', { dict: { k: 1 } });
      await s.put('b.json', { dict: { k: 2 } });
      expect(s.tokensIssued).toBe(1);
      await new Promise((r) => setTimeout(r, 1_600));
      await s.put('c.json', { dict: { k: 3 } });
      expect(s.tokensIssued).toBe(2);
    });
    expect(oidc.tokenRequests).toBe(2);
    expect(ingress.uploads).toHaveLength(3);
  });

  it('concurrent puts share one token request', async () => {
    await using(crc(), async (s) => {
      await Promise.all([1, 2, 3].map((i) => s.put(`c${i}.json`, { dict: { i } })));
      expect(s.tokensIssued).toBe(1);
    });
    expect(oidc.tokenRequests).toBe(1);
    expect(ingress.uploads.map((u) => u.filename).sort()).toEqual(['c1.json', 'c2.json', 'c3.json']);
  });

  it('retries a 5xx from SSO and then gets its token', async () => {
    oidc.failTokenRequests = 1;
    await using(crc(), (s) => s.put('t.json', { dict: { k: 1 } }));
    expect(oidc.tokenRequests).toBe(2);
    expect(ingress.uploads).toHaveLength(1);
  });

  it('an SSO that keeps failing gives a token error with the status', async () => {
    oidc.failTokenRequests = 100;
    await using(crc(), async (s) => {
      const err = await s.put('t.json', { dict: {} }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect((err as StorageError).status).toBe(503);
      expect((err as Error).message).toMatch(/service account token request to .* failed with status 503/);
    });
    expect(oidc.tokenRequests).toBe(3);
    expect(ingress.requests).toBe(0);
  });

  it('gives a clear error when even a fresh token is refused', async () => {
    ingress.decide = () => ({ status: 401, body: 'Unauthorized' });
    await using(crc(), async (s) => {
      const err = await s.put('x.json', { dict: { k: 1 } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect((err as StorageError).status).toBe(401);
      expect((err as Error).message).toMatch(/storage crc: put x.json: the ingress refused a freshly issued service account token \(401\)/);
    });
    expect(ingress.requests).toBe(2);
    expect(oidc.tokenRequests).toBe(2);
  });

  it('413 is not retried and names the payload size', async () => {
    ingress.decide = () => ({ status: 413, body: 'too big' });
    await using(crc(), async (s) => {
      const err = await s.put('big.tar.gz', { buffer: Buffer.alloc(1234) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect((err as StorageError).status).toBe(413);
      expect((err as Error).message).toMatch(/too large \(413\): 1234 bytes/);
    });
    expect(ingress.requests).toBe(1);
  });

  it('retries 5xx with the core policy and succeeds', async () => {
    ingress.decide = (n) => (n <= 2 ? { status: 503, body: 'busy' } : 'accept');
    await using(crc(), (s) => s.put('r.tar.gz', { buffer: 'payload' }));
    expect(ingress.requests).toBe(3);
    expect(ingress.uploads.map((u) => u.bytes.toString())).toEqual(['payload']);
  });

  it('a persistent 5xx fails with the status and a body excerpt after the attempts', async () => {
    ingress.decide = () => ({ status: 502, body: 'upstream\n  exploded' });
    await using(crc(), async (s) => {
      const err = await s.put('f.json', { dict: {} }).catch((e: unknown) => e);
      expect((err as StorageError).status).toBe(502);
      expect((err as Error).message).toMatch(/failed with status 502: upstream exploded/);
    });
    expect(ingress.requests).toBe(3);
  });

  it('other 4xx fail at once with status and body', async () => {
    ingress.decide = () => ({ status: 400, body: 'bad payload' });
    await using(crc(), async (s) => {
      await expect(s.put('f.json', { dict: {} })).rejects.toThrow(/status 400: bad payload/);
    });
    expect(ingress.requests).toBe(1);
  });

  it('times out a hanging ingress instead of waiting forever', async () => {
    ingress.decide = () => 'hang';
    await using(crc({ timeouts: { responseMs: 300 }, retry: { attempts: 1 } }), async (s) => {
      await expect(s.put('h.json', { dict: {} })).rejects.toThrow(/storage crc: put h.json: upload to .* failed: .*(timeout|Timeout)/i);
    });
  });

  it('a wrong client secret is a clear token error naming the variables', async () => {
    await using(crc({ clientSecret: 'wrong-secret-value' }), async (s) => {
      const err = await s.put('w.json', { dict: {} }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect((err as Error).message).toMatch(/service account token request to .*\/token failed with status 401: invalid_client/);
      expect((err as Error).message).toMatch(/METRICS_UTILITY_SERVICE_ACCOUNT_SECRET/);
      expect((err as Error).message).not.toContain('wrong-secret-value');
    });
    expect(ingress.requests).toBe(0);
  });

  it('uploads through METRICS_UTILITY_PROXY_URL (CONNECT), the token request goes direct', async () => {
    await using(crc({ proxyUrl: urlOf(proxy.server) }), (s) => s.put('p.json', { dict: { via: 'proxy' } }));
    expect(proxy.tunnels).toEqual([`127.0.0.1:${new URL(urlOf(ingressServer)).port}`]);
    expect(ingress.uploads).toHaveLength(1);
  });

  it('missing path or file errors are StorageErrors naming the file', async () => {
    await using(crc(), async (s) => {
      await expect(s.put('m.tar.gz', { filename: '/nonexistent/file.tar.gz' })).rejects.toThrow(/storage crc: put m.tar.gz: \/nonexistent\/file.tar.gz is not a readable file/);
      await expect(s.put('../x', { buffer: 'x' })).rejects.toThrow(StorageError);
    });
  });

  it('is a Sink, not a Store: nothing to read back, and the type guard says so', async () => {
    await using(crc(), async (s) => {
      expect(isStore(s)).toBe(false);
      expect('get' in s || 'glob' in s || 'exists' in s || 'remove' in s).toBe(false);
    });
  });

  it('validates its configuration', async () => {
    expect(() => new CrcStorage({ clientId: '', clientSecret: 'x' })).toThrow(/client_id not set/);
    expect(() => new CrcStorage({ clientId: 'x', clientSecret: '' })).toThrow(/METRICS_UTILITY_SERVICE_ACCOUNT_SECRET/);
    // Plain http only with the explicit test switch.
    expect(() => crc({ allowInsecureHttp: false })).toThrow(ConfigError);
    expect(() => crc({ allowInsecureHttp: false })).toThrow(/plain http/);
    expect(() => crc({ ingressUrl: 'ftp://x/upload' })).toThrow(/must be an https URL/);
    expect(() => crc({ verifyCertPath: '/nonexistent/ca.pem' })).toThrow(/METRICS_UTILITY_CRC_VERIFY_CERT_PATH/);
    expect(issuerFromTokenUrl('https://sso.redhat.com/auth/realms/redhat-external/protocol/openid-connect/token')).toBe(
      'https://sso.redhat.com/auth/realms/redhat-external',
    );
    expect(issuerFromTokenUrl('https://idp.example/oauth/token')).toBe('https://idp.example');
  });

  it('keeps secrets out of describe() and logs', async () => {
    const dir = await tempdir('crc-log');
    try {
      const lines: string[] = [];
      const logger = createLogger({ format: 'json', level: 'debug', stream: { write: (l: string) => lines.push(l) } as never });
      await using(crc({ logger, proxyUrl: `http://user:proxy-pass-1234@${urlOf(proxy.server).slice(7)}` }), async (s) => {
        await s.put('l.json', { dict: { k: 1 } });
        const described = JSON.stringify(s.describe());
        expect(described).not.toContain(CLIENT_SECRET);
        expect(described).not.toContain('proxy-pass-1234');
        expect(s.describe()).toMatchObject({ backend: 'crc', clientId: CLIENT_ID, ssoUrl: `${oidc.issuer}/token` });
        // Any log line that mentions the secret or the token shows it redacted.
        logger.info(`secret ${CLIENT_SECRET} token ${ingress.tokensSeen[0]}`);
      });
      const text = lines.join('');
      expect(proxy.auth).toEqual([`Basic ${Buffer.from('user:proxy-pass-1234').toString('base64')}`]);
      logger.warn('proxy said no to proxy-pass-1234');
      expect(lines.at(-1)).not.toContain('proxy-pass-1234');
      expect(text).toContain('uploaded');
      expect(text).not.toContain(CLIENT_SECRET);
      expect(text).not.toContain(ingress.tokensSeen[0]!);
      await writeFile(join(dir.path, 'log'), text);
    } finally {
      await dir.remove();
    }
  });
});
