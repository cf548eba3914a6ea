import { once } from 'node:events';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

export const AUDIENCE = 'urn:tally:ingress';
export const CLIENT_ID = 'tally-test-client';
export const CLIENT_SECRET = 'tally-test-secret-0123456789';

export function urlOf(server: Server, scheme = 'http'): string {
  return `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function listen(server: Server): Promise<void> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
}

export async function shutdown(server: Server | undefined): Promise<void> {
  if (!server?.listening) return;
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

/** oidc-provider on loopback issuing RS256 JWT access tokens by client credentials. */
export class OidcServer {
  server!: Server;
  issuer = '';
  /** Requests that reached the token endpoint. */
  tokenRequests = 0;
  /** Access token lifetime in seconds for tokens issued from now on. */
  ttl = 600;
  /** Answer this many token requests with an HTML 503 (an unhappy proxy in front of SSO). */
  failTokenRequests = 0;

  async start(): Promise<void> {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'test-key' };
    // The issuer must be known before the provider is built: bind first, then attach the handler.
    this.server = createServer();
    await listen(this.server);
    this.issuer = urlOf(this.server);
    const provider = new Provider(this.issuer, {
      clients: [
        {
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          grant_types: ['client_credentials'],
          redirect_uris: [],
          response_types: [],
          token_endpoint_auth_method: 'client_secret_post',
        },
      ],
      jwks: { keys: [jwk] },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => AUDIENCE,
          useGrantedResource: () => true,
          getResourceServerInfo: () => ({ scope: 'api.console', audience: AUDIENCE, accessTokenFormat: 'jwt', accessTokenTTL: this.ttl }),
        },
      },
      ttl: { ClientCredentials: (_ctx: unknown, token: { resourceServer?: { accessTokenTTL?: number } }) => token.resourceServer?.accessTokenTTL ?? 600 },
    });
    const callback = provider.callback();
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.url?.startsWith('/token')) {
        this.tokenRequests++;
        if (this.failTokenRequests > 0) {
          this.failTokenRequests--;
          req.resume();
          res.writeHead(503, { 'content-type': 'text/html' }).end('<html>busy</html>');
          return;
        }
      }
      callback(req, res);
    });
  }

  stop(): Promise<void> {
    return shutdown(this.server);
  }
}

export interface Upload {
  filename: string;
  contentType: string;
  field: string;
  bytes: Buffer;
  userAgent: string | undefined;
  authorization: string | undefined;
  /** CN of the client certificate (mTLS). */
  peer?: string;
}

/** Read a multipart/form-data request with the platform's own parser. */
export async function readMultipart(req: IncomingMessage): Promise<{ field: string; filename: string; contentType: string; bytes: Buffer }[]> {
  const request = new Request('http://ingress.invalid/', {
    method: 'POST',
    headers: req.headers as Record<string, string>,
    body: Readable.toWeb(req) as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  const form = await request.formData();
  const out = [];
  for (const [field, value] of form.entries()) {
    if (typeof value === 'string') out.push({ field, filename: '', contentType: '', bytes: Buffer.from(value) });
    else out.push({ field, filename: value.name, contentType: value.type, bytes: Buffer.from(await value.arrayBuffer()) });
  }
  return out;
}

export type Decision = { status: number; body?: string } | 'hang' | 'accept';

/**
 * A stand-in for the console ingress: stores every multipart upload it accepts.
 * `decide` (called per request, 1-based) can answer an error status, hang, or accept;
 * `authorize` checks the request (a bearer token, a client certificate).
 */
export class Ingress {
  uploads: Upload[] = [];
  requests = 0;
  tokensSeen: string[] = [];
  decide: (n: number, req: IncomingMessage) => Decision | Promise<Decision> = () => 'accept';
  authorize: (req: IncomingMessage) => Promise<{ ok: true; peer?: string } | { ok: false; status: number; body: string }> = async () => ({ ok: true });

  reset(): void {
    this.uploads = [];
    this.requests = 0;
    this.tokensSeen = [];
    this.decide = () => 'accept';
  }

  handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const n = ++this.requests;
      const auth = req.headers.authorization;
      if (auth?.startsWith('Bearer ')) this.tokensSeen.push(auth.slice(7));
      const decision = await this.decide(n, req);
      if (decision === 'hang') return; // never answer: the client's timeout must fire
      if (decision !== 'accept') {
        req.resume();
        res.writeHead(decision.status, { 'content-type': 'text/plain' }).end(decision.body ?? '');
        return;
      }
      const verdict = await this.authorize(req);
      if (!verdict.ok) {
        req.resume();
        res.writeHead(verdict.status, { 'content-type': 'application/json' }).end(verdict.body);
        return;
      }
      if (req.method !== 'POST' || req.url !== '/api/ingress/v1/upload') {
        req.resume();
        res.writeHead(404).end('no such endpoint');
        return;
      }
      for (const part of await readMultipart(req)) {
        this.uploads.push({ ...part, userAgent: req.headers['user-agent'], authorization: auth, ...(verdict.peer ? { peer: verdict.peer } : {}) });
      }
      res.writeHead(202, { 'content-type': 'application/json' }).end('{"request_id":"abc"}');
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  };
}

/** CN of the verified client certificate on a TLS request. */
export function peerCommonName(req: IncomingMessage): string | undefined {
  const socket = req.socket as TLSSocket;
  if (!socket.authorized) return undefined;
  const cn = socket.getPeerCertificate().subject?.CN;
  return Array.isArray(cn) ? cn[0] : cn;
}

/** A minimal HTTP CONNECT proxy on loopback that records the tunnels it opens. */
export class ConnectProxy {
  server!: Server;
  tunnels: string[] = [];
  /** Proxy-Authorization of each CONNECT. */
  auth: (string | undefined)[] = [];

  async start(): Promise<void> {
    this.server = createServer((_req, res) => res.writeHead(405).end());
    this.server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
      const target = req.url ?? '';
      this.tunnels.push(target);
      this.auth.push(req.headers['proxy-authorization']);
      const [host, port] = target.split(':');
      if (host !== '127.0.0.1') {
        client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
        return;
      }
      const upstream = connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length) upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await listen(this.server);
  }

  stop(): Promise<void> {
    return shutdown(this.server);
  }
}
