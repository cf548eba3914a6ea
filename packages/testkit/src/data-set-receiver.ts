import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** What the receiver does with one request: accept it, answer a status, or drop the connection unanswered. */
export type ReceiverFault = 'accept' | 'drop' | { status: number; retryAfter?: string; body?: string };

export interface ReceivedChunk {
  path: string;
  records: Record<string, unknown>[];
  idempotencyKey: string | undefined;
  contentType: string | undefined;
  /** The request's Content-Encoding (`gzip` when the sender compressed it). */
  contentEncoding: string | undefined;
}

/**
 * A stand-in for an HTTP data set (performanceplatform's write API) on 127.0.0.1:
 * checks the bearer token, records every accepted chunk, and answers the
 * scripted faults in `faults` (one per request, in order) before accepting.
 */
export class DataSetReceiver {
  server!: Server;
  url = '';
  chunks: ReceivedChunk[] = [];
  /** Every request, accepted or not: `method path → status` (`drop` for a cut connection). */
  log: string[] = [];
  faults: ReceiverFault[] = [];
  /** Idempotency keys of every attempt, in order. */
  keys: (string | undefined)[] = [];

  constructor(public token: string) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  reset(): void {
    this.chunks = [];
    this.log = [];
    this.faults = [];
    this.keys = [];
  }

  /** Every record received, in order. */
  get records(): Record<string, unknown>[] {
    return this.chunks.flatMap((c) => c.records);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parts: Buffer[] = [];
    for await (const p of req) parts.push(p as Buffer);
    const line = `${req.method} ${req.url}`;
    this.keys.push(req.headers['idempotency-key'] as string | undefined);
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      this.log.push(`${line} → 401`);
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"Unauthorized: bad bearer token"}');
      return;
    }
    const fault = this.faults.shift() ?? 'accept';
    if (fault === 'drop') {
      this.log.push(`${line} → drop`);
      req.socket.destroy();
      return;
    }
    if (fault !== 'accept') {
      this.log.push(`${line} → ${fault.status}`);
      res.writeHead(fault.status, { 'content-type': 'text/plain', ...(fault.retryAfter ? { 'retry-after': fault.retryAfter } : {}) }).end(fault.body ?? 'try later');
      return;
    }
    let records: unknown;
    try {
      const raw = Buffer.concat(parts);
      records = JSON.parse((req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8'));
    } catch {
      records = undefined;
    }
    if (req.method !== 'POST' || !Array.isArray(records)) {
      this.log.push(`${line} → 400`);
      res.writeHead(400).end('expected a POST of a JSON array');
      return;
    }
    this.log.push(`${line} → 200`);
    this.chunks.push({
      path: req.url ?? '',
      records: records as Record<string, unknown>[],
      idempotencyKey: req.headers['idempotency-key'] as string | undefined,
      contentType: req.headers['content-type'],
      contentEncoding: req.headers['content-encoding'],
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  }

  async stop(): Promise<void> {
    if (!this.server?.listening) return;
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}
