import { once } from 'node:events';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SegmentStorage } from '@tally/storage-segment';
import { storageContract } from '@tally/testkit';
import { afterAll, beforeAll } from 'vitest';

interface Track {
  properties: { artifact_name: string; data: Record<string, unknown> };
}

// A Segment-like receiver on loopback that keeps every track event, so the contract can
// read back what a put delivered: the chunks of one artifact merged into the dict again.
const received: Track[] = [];
let server: Server;
beforeAll(async () => {
  server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      received.push(...(JSON.parse(Buffer.concat(parts).toString('utf8')) as { batch: Track[] }).batch);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** Dict-valued keys arrive whole, list-valued keys in order across chunks. */
function reassemble(name: string): Record<string, unknown> | undefined {
  const events = received.filter((e) => e.properties.artifact_name === name);
  if (!events.length) return undefined;
  const out: Record<string, unknown> = {};
  for (const { properties } of events) {
    for (const [k, v] of Object.entries(properties.data)) out[k] = Array.isArray(v) ? [...((out[k] as unknown[]) ?? []), ...v] : v;
  }
  return out;
}

storageContract(
  'segment',
  () => new SegmentStorage({ writeKey: 'contract-write-key', host: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
  { readable: false, sources: ['dict'], secrets: ['contract-write-key'], received: async (name) => reassemble(name) },
);
