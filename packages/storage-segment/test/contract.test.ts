import { once } from 'node:events';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SegmentStorage } from '@tally/storage-segment';
import { storageContract } from '@tally/testkit';
import { afterAll, beforeAll } from 'vitest';

// A receiver that accepts every batch; what the events hold is checked in segment.test.ts
// (Segment drops scalar top-level values, so the contract's dict is not read back here).
let server: Server;
beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

storageContract(
  'segment',
  () => new SegmentStorage({ writeKey: 'contract-write-key', host: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
  { readable: false, sources: ['dict'], secrets: ['contract-write-key'] },
);
