import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type TempDir, tempdir } from '@tally/core';
import { CrcMutualStorage, CrcStorage } from '@tally/storage-crc';
import { storageContract } from '@tally/testkit';
import { afterAll, beforeAll } from 'vitest';
import { type TestPki, makePki } from './certs.js';
import { CLIENT_ID, CLIENT_SECRET, Ingress, OidcServer, listen, peerCommonName, shutdown, urlOf } from './servers.js';

const oidc = new OidcServer();
const plainIngress = new Ingress();
const tlsIngress = new Ingress();
let plain: Server;
let tls: Server;
let dir: TempDir;
let pki: TestPki;

beforeAll(async () => {
  await oidc.start();
  // The bearer token is verified in crc.test.ts; here only its presence.
  plainIngress.authorize = async (req) =>
    req.headers.authorization?.startsWith('Bearer ') ? { ok: true } : { ok: false, status: 401, body: 'no token' };
  plain = createServer(plainIngress.handler);
  await listen(plain);
  dir = await tempdir('crc-contract');
  pki = makePki(dir.path);
  tlsIngress.authorize = async (req) => {
    const peer = peerCommonName(req);
    return peer ? { ok: true, peer } : { ok: false, status: 401, body: 'client certificate required' };
  };
  tls = createHttpsServer(
    { key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert), ca: readFileSync(pki.caCert), requestCert: true, rejectUnauthorized: true },
    tlsIngress.handler,
  );
  await listen(tls);
});

afterAll(async () => {
  await shutdown(plain);
  await shutdown(tls);
  await oidc.stop();
  await dir?.remove();
});

/** What the ingress stored under `name`: parsed JSON for dict parts, bytes otherwise. */
const receivedBy = (ingress: Ingress) => async (name: string) => {
  const u = ingress.uploads.findLast((x) => x.filename === name);
  if (!u) return undefined;
  return u.contentType === 'application/json' ? JSON.parse(u.bytes.toString('utf8')) : new Uint8Array(u.bytes);
};

storageContract(
  'crc',
  () =>
    new CrcStorage({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      ingressUrl: `${urlOf(plain)}/api/ingress/v1/upload`,
      ssoUrl: `${oidc.issuer}/token`,
      allowInsecureHttp: true,
    }),
  { readable: false, secrets: [CLIENT_SECRET], received: receivedBy(plainIngress) },
);

storageContract(
  'crc-mutual',
  () =>
    new CrcMutualStorage({
      ingressUrl: `${urlOf(tls, 'https')}/api/ingress/v1/upload`,
      certPath: pki.clientCert,
      keyPath: pki.clientKey,
      verifyCertPath: pki.caCert,
    }),
  { readable: false, secrets: ['PRIVATE KEY'], received: receivedBy(tlsIngress) },
);
