import { readFileSync } from 'node:fs';
import { createServer as createHttp, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { type TempDir, tempdir } from '@tally/core';
import { IngressSink, type IngressSettings, parseIngressSettings, xRhIdentity } from '@tally/storage-crc';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makePki, type TestPki } from './certs.js';
import { CLIENT_ID, CLIENT_SECRET, Ingress, listen, OidcServer, peerCommonName, shutdown, urlOf } from './servers.js';

const ingress = new Ingress();
const oidc = new OidcServer();
let http: Server;
let https: Server;
let url: string;
let httpsUrl: string;
let dir: TempDir;
let pki: TestPki;
const fast = { attempts: 3, baseDelayMs: 5, maxDelayMs: 10 };
const CONTENT_TYPE = 'application/vnd.redhat.tower.tower_payload+tgz';
const tarball = Buffer.from('not really a tarball, but bytes all the same');

beforeAll(async () => {
  dir = await tempdir('ingress-generic');
  pki = makePki(dir.path);
  http = createHttp(ingress.handler);
  await listen(http);
  url = `${urlOf(http)}/api/ingress/v1/upload`;
  https = createHttps(
    { key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert), ca: readFileSync(pki.caCert), requestCert: true, rejectUnauthorized: false },
    ingress.handler,
  );
  await listen(https);
  httpsUrl = `${urlOf(https, 'https')}/api/ingress/v1/upload`;
  await oidc.start();
});
afterAll(async () => {
  await shutdown(http);
  await shutdown(https);
  await oidc.stop();
  await dir?.remove();
});
beforeEach(() => {
  ingress.reset();
  ingress.authorize = async () => ({ ok: true });
});

async function upload(settings: IngressSettings, name = 'data/2024/03/11/abc-0.tar.gz') {
  const sink = new IngressSink({ retry: fast, ...settings });
  try {
    await sink.put(name, { buffer: tarball });
  } finally {
    await sink.close();
  }
  return sink;
}

describe('IngressSink (generic ingress)', () => {
  it('basic auth: user and password, the configured content type, field "file" named after the tarball', async () => {
    ingress.authorize = async (req) =>
      req.headers.authorization === `Basic ${Buffer.from('rh-user:pa55:word!').toString('base64')}` ? { ok: true } : { ok: false, status: 401, body: 'bad credentials' };
    const sink = await upload({ url, contentType: CONTENT_TYPE, auth: { type: 'basic', username: 'rh-user', password: 'pa55:word!' } });
    expect(ingress.uploads).toHaveLength(1);
    expect(ingress.uploads[0]).toMatchObject({ field: 'file', filename: 'abc-0.tar.gz', contentType: CONTENT_TYPE });
    expect(ingress.uploads[0]!.bytes.equals(tarball)).toBe(true);
    expect(JSON.stringify(sink.describe())).not.toContain('pa55');
    expect(sink.describe()).toMatchObject({ backend: 'ingress', contentType: CONTENT_TYPE, auth: { type: 'basic', username: 'rh-user' } });

    await expect(upload({ url, auth: { type: 'basic', username: 'rh-user', password: 'wrong-password' } })).rejects.toThrow(
      /storage ingress: put abc-0.tar.gz: upload to http:\/\/127\.0\.0\.1:\d+\/api\/ingress\/v1\/upload failed with status 401: bad credentials/,
    );
  });

  it('bearer token, with extra headers such as x-rh-identity', async () => {
    const identity = xRhIdentity({ org_id: '000001', account_number: '0000001' });
    const seen: Record<string, string | undefined>[] = [];
    ingress.authorize = async (req) => {
      seen.push({ auth: req.headers.authorization, identity: req.headers['x-rh-identity'] as string, extra: req.headers['x-request-source'] as string });
      return req.headers.authorization === 'Bearer ingress-bearer-123' ? { ok: true } : { ok: false, status: 401, body: 'no' };
    };
    await upload({ url, auth: { type: 'bearer', token: 'ingress-bearer-123' }, headers: { 'x-rh-identity': identity, 'X-Request-Source': 'tally' } });
    expect(seen).toEqual([{ auth: 'Bearer ingress-bearer-123', identity, extra: 'tally' }]);
    expect(JSON.parse(Buffer.from(identity, 'base64').toString('utf8'))).toMatchObject({ identity: { org_id: '000001', account_number: '0000001', internal: { org_id: '000001' } } });
    expect(ingress.uploads).toHaveLength(1);
  });

  it('x-rh-identity alone (no credentials), and retries a 503 before it is accepted', async () => {
    const identity = xRhIdentity({ org_id: '42' });
    ingress.decide = (n) => (n === 1 ? { status: 503, body: 'busy' } : 'accept');
    ingress.authorize = async (req) => (req.headers['x-rh-identity'] === identity && !req.headers.authorization ? { ok: true } : { ok: false, status: 403, body: 'identity' });
    await upload({ url, auth: { type: 'none' }, headers: { 'x-rh-identity': identity } });
    expect(ingress.requests).toBe(2);
    expect(ingress.uploads).toHaveLength(1);
  });

  it('OAuth2 client credentials: a token from the token endpoint as the bearer', async () => {
    const before = oidc.tokenRequests;
    await upload({ url, auth: { type: 'oauth2', tokenUrl: `${oidc.issuer}/token`, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET } });
    expect(oidc.tokenRequests - before).toBe(1);
    expect(ingress.uploads[0]!.authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it('mutual TLS: the client certificate is the credential, verified against the CA', async () => {
    ingress.authorize = async (req) => {
      const peer = peerCommonName(req);
      return peer ? { ok: true, peer } : { ok: false, status: 401, body: 'client certificate required' };
    };
    await upload({ url: httpsUrl, verifyCertPath: pki.caCert, auth: { type: 'mtls', certPath: pki.clientCert, keyPath: pki.clientKey } });
    expect(ingress.uploads[0]!.peer).toBe('collector-01');
  });

  it('validates settings, naming the field and never echoing a secret', () => {
    const cases: [unknown, RegExp][] = [
      [{ auth: { type: 'none' } }, /url is required/],
      [{ url: 'http://ingress.example.com/upload', auth: { type: 'none' } }, /plain http/],
      [{ url, auth: { type: 'kerberos' } }, /auth.type must be one of none, basic, bearer, oauth2, mtls/],
      [{ url, auth: { type: 'basic', username: 'u' } }, /auth.password is required/],
      [{ url, auth: { type: 'bearer', token: 'a b' } }, /auth.token must not contain spaces/],
      [{ url, auth: { type: 'bearer', token: 'tok-secret-1', password: 'x' } }, /auth.password is not a setting of auth type bearer/],
      [{ url, auth: { type: 'none' }, headers: { Authorization: 'Bearer x' } }, /headers.Authorization is set by Tally itself/],
      [{ url, auth: { type: 'none' }, headers: { 'x-rh-identity': 'a\r\nx-evil: 1' } }, /headers.x-rh-identity must be a string on one line/],
      [{ url, auth: { type: 'none' }, contentType: 'tgz' }, /contentType must be a MIME type/],
      [{ url, auth: { type: 'none' }, shipPath: '/x' }, /shipPath is not an ingress setting/],
    ];
    for (const [raw, message] of cases) {
      let err: Error | undefined;
      try {
        parseIngressSettings(raw, 'ingress.json');
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message, JSON.stringify(raw)).toMatch(message);
      expect(err?.message).toMatch(/^ingress\.json: /);
      expect(err?.message).not.toContain('tok-secret-1');
    }
    expect(parseIngressSettings({ url, auth: { type: 'bearer', token: 't0k' }, headers: { 'X-RH-Identity': 'abc' } })).toEqual({
      url,
      auth: { type: 'bearer', token: 't0k' },
      headers: { 'x-rh-identity': 'abc' },
    });
  });
});
