import { once } from 'node:events';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the Segment receiver got: its Authorization header, raw body and, when accepted, its batch. */
export interface SegmentRequest {
  auth: string | undefined;
  body: string;
  status: number;
  batch: Record<string, unknown>[];
}

/**
 * A stand-in for Segment's batch API (`POST /v1/batch`) on 127.0.0.1 that records every request.
 * `status(n)` answers request n (1-based); a 2xx on /v1/batch keeps the request's batch.
 */
export class SegmentReceiver {
  server!: Server;
  requests: SegmentRequest[] = [];
  status: (n: number) => number = () => 200;

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Every event accepted, in order. */
  get events(): Record<string, unknown>[] {
    return this.requests.flatMap((r) => r.batch);
  }

  async start(): Promise<this> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        const status = this.status(this.requests.length + 1);
        const body = Buffer.concat(parts).toString('utf8');
        const accepted = req.method === 'POST' && req.url === '/v1/batch' && status < 300;
        this.requests.push({ auth: req.headers.authorization, body, status, batch: accepted ? JSON.parse(body).batch : [] });
        res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
      });
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return this;
  }

  reset(): void {
    this.requests = [];
    this.status = () => 200;
  }

  async stop(): Promise<void> {
    if (!this.server?.listening) return;
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}
