import { type IncomingHttpHeaders, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault = '503' | 'reset' | 'hang';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/**
 * A loopback HTTP proxy in front of a server: the first `failFirst` requests get
 * `fault` (a 503, a reset socket or no answer at all), the rest are forwarded.
 */
export interface FaultProxy {
  readonly endpoint: string;
  readonly seen: SeenRequest[];
  /** Fail the next `n` requests (Infinity: all of them) with `fault`; only those `match` accepts, when given. */
  failNext(n: number, fault: Fault, match?: (req: SeenRequest) => boolean): void;
  /**
   * Serve ListObjectsV2 pages of `max-keys` from the server's full listing, with
   * our own continuation tokens (s3rver's need DES, which OpenSSL 3 refuses).
   */
  pageLists(on: boolean): void;
  close(): Promise<void>;
}

export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  let remaining = 0;
  let paging = false;
  let fault: Fault = '503';
  let matches: ((req: SeenRequest) => boolean) | undefined;
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const info: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers };
    seen.push(info);
    if (remaining > 0 && (!matches || matches(info))) {
      remaining--;
      if (fault === 'reset') {
        req.socket.destroy();
        return;
      }
      if (fault === 'hang') {
        req.resume();
        return;
      }
      req.resume();
      req.on('end', () => {
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>try later</Message></Error>');
      });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://proxy');
    if (paging && req.method === 'GET' && url.searchParams.get('list-type') === '2' && url.searchParams.has('max-keys')) {
      const max = Number(url.searchParams.get('max-keys'));
      const after = url.searchParams.get('continuation-token');
      url.searchParams.delete('max-keys');
      url.searchParams.delete('continuation-token');
      const { authorization: _auth, ...headers } = req.headers;
      const full = request({ host: '127.0.0.1', port: targetPort, method: 'GET', path: url.pathname + url.search, headers }, async (r) => {
        let body = '';
        for await (const chunk of r) body += chunk;
        const contents = body.match(/<Contents>[\s\S]*?<\/Contents>/g) ?? [];
        const keys = contents.map((c) => /<Key>([\s\S]*?)<\/Key>/.exec(c)![1]!);
        const start = after ? keys.indexOf(Buffer.from(after, 'base64url').toString()) + 1 : 0;
        const page = contents.slice(start, start + max);
        const truncated = start + max < keys.length;
        const next = truncated ? `<NextContinuationToken>${Buffer.from(keys[start + max - 1]!).toString('base64url')}</NextContinuationToken>` : '';
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><KeyCount>${page.length}</KeyCount><MaxKeys>${max}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${next}${page.join('')}</ListBucketResult>`,
        );
      });
      full.on('error', () => res.destroy());
      full.end();
      return;
    }
    const up = request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    pageLists(on) {
      paging = on;
    },
    failNext(n, f, match) {
      remaining = n;
      fault = f;
      matches = match;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
