import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '@tally/core';
import { DirectoryStorage, isStore } from '@tally/storage';
import { CrcMutualStorage, CrcStorage } from '@tally/storage-crc';
import { PostgresStorage } from '@tally/storage-postgres';
import { S3Storage } from '@tally/storage-s3';
import { type TestDatabase, createTestDatabase } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSink, createStore } from '../src/storage-factory.js';

const cfg = (env: Record<string, string>) => loadConfig({ env });
const configError = async (p: Promise<unknown>): Promise<ConfigError> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
};

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'tally-factory-'));
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe('createSink (gather) and createStore (report, rollup)', () => {
  it('needs METRICS_UTILITY_SHIP_TARGET', async () => {
    const err = await configError(createSink(cfg({})));
    expect(err.field).toBe('METRICS_UTILITY_SHIP_TARGET');
    expect(err.message).toMatch(/METRICS_UTILITY_SHIP_TARGET is not set; expected directory, s3, crc, crc-mutual, postgres or ingress/);
  });

  it('directory: METRICS_UTILITY_SHIP_PATH', async () => {
    const err = await configError(createSink(cfg({ METRICS_UTILITY_SHIP_TARGET: 'directory' })));
    expect(err.message).toBe('METRICS_UTILITY_SHIP_TARGET=directory needs METRICS_UTILITY_SHIP_PATH');
    const s = await createSink(cfg({ METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: scratch }));
    expect(s).toBeInstanceOf(DirectoryStorage);
    await s.put('x/y.json', { dict: { a: 1 } });
    const store = await createStore(cfg({ METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: scratch }), 'report');
    expect(await store.glob('x/*')).toEqual(['x/y.json']);
  });

  it('s3: bucket required, keys both or neither, never shown', async () => {
    const err = await configError(createSink(cfg({ METRICS_UTILITY_SHIP_TARGET: 's3' })));
    expect(err.message).toContain('METRICS_UTILITY_BUCKET_NAME');
    await expect(
      createSink(cfg({ METRICS_UTILITY_SHIP_TARGET: 's3', METRICS_UTILITY_BUCKET_NAME: 'b', METRICS_UTILITY_BUCKET_ACCESS_KEY: 'AKIAONLY' })),
    ).rejects.toThrow(/METRICS_UTILITY_BUCKET_SECRET_KEY/);
    const s = await createSink(
      cfg({
        METRICS_UTILITY_SHIP_TARGET: 's3',
        METRICS_UTILITY_BUCKET_NAME: 'metricsutilitys3',
        METRICS_UTILITY_BUCKET_ENDPOINT: 'http://127.0.0.1:9000',
        METRICS_UTILITY_BUCKET_REGION: 'eu-west-1',
        METRICS_UTILITY_BUCKET_ACCESS_KEY: 'AKIAEXAMPLEKEY',
        METRICS_UTILITY_BUCKET_SECRET_KEY: 'very-secret-value',
      }),
    );
    expect(s).toBeInstanceOf(S3Storage);
    expect(s.describe()).toEqual({ backend: 's3', bucket: 'metricsutilitys3', endpoint: 'http://127.0.0.1:9000', region: 'eu-west-1', staticKeys: true });
    expect(JSON.stringify(s.describe())).not.toMatch(/AKIAEXAMPLEKEY|very-secret-value/);
    await s.close?.();
  });

  it('crc: names both missing service-account variables at once', async () => {
    const err = await configError(createSink(cfg({ METRICS_UTILITY_SHIP_TARGET: 'crc' })));
    expect(err.message).toBe('METRICS_UTILITY_SHIP_TARGET=crc needs METRICS_UTILITY_SERVICE_ACCOUNT_ID, METRICS_UTILITY_SERVICE_ACCOUNT_SECRET');
    const s = await createSink(
      cfg({
        METRICS_UTILITY_SHIP_TARGET: 'crc',
        METRICS_UTILITY_SERVICE_ACCOUNT_ID: 'svc-id',
        METRICS_UTILITY_SERVICE_ACCOUNT_SECRET: 'svc-secret-value',
        METRICS_UTILITY_CRC_INGRESS_URL: 'https://ingress.example.com/api/ingress/v1/upload',
      }),
    );
    expect(s).toBeInstanceOf(CrcStorage);
    expect(s.backend).toBe('crc');
    expect(JSON.stringify(s.describe())).not.toContain('svc-secret-value');
    await s.close?.();
  });

  it('crc-mutual: reads the client certificate named by METRICS_UTILITY_CRC_CERT_PATH/KEY_PATH', async () => {
    const missing = await configError(
      createSink(cfg({ METRICS_UTILITY_SHIP_TARGET: 'crc-mutual', METRICS_UTILITY_CRC_CERT_PATH: join(scratch, 'none.pem') })),
    );
    expect(missing.message).toContain(join(scratch, 'none.pem'));
    const cert = join(scratch, 'client.pem');
    const key = join(scratch, 'client.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=collector', '-days', '1'], {
      stdio: 'ignore',
    });
    const s = await createSink(cfg({ METRICS_UTILITY_SHIP_TARGET: 'crc-mutual', METRICS_UTILITY_CRC_CERT_PATH: cert, METRICS_UTILITY_CRC_KEY_PATH: key }));
    expect(s).toBeInstanceOf(CrcMutualStorage);
    expect(s.describe()).toMatchObject({ backend: 'crc-mutual', certPath: cert, keyPath: key });
    await s.close?.();
  });

  it('segment: refused for gather at start, saying what Segment accepts', async () => {
    const envs: Record<string, string>[] = [{}, { METRICS_UTILITY_SEGMENT_WRITE_KEY: 'write-key-secret', METRICS_UTILITY_SEGMENT_HOST: 'http://127.0.0.1:1' }];
    for (const env of envs) {
      const err = await configError(createSink(cfg({ METRICS_UTILITY_SHIP_TARGET: 'segment', ...env })));
      expect(err.field).toBe('METRICS_UTILITY_SHIP_TARGET');
      expect(err.message).toBe(
        'METRICS_UTILITY_SHIP_TARGET=segment cannot take gathered tarballs: Segment accepts dicts (JSON objects, sent as track events in chunks of at most 32 KiB), not files, streams or tarballs; gather ships to directory, s3, crc, crc-mutual, postgres or ingress',
      );
      expect(err.message).not.toContain('write-key-secret');
    }
  });

  it('ingress: TALLY_INGRESS_SETTINGS names a checked JSON file; the sink puts with its auth and headers', async () => {
    const missing = await configError(createSink(cfg({ METRICS_UTILITY_SHIP_TARGET: 'ingress' })));
    expect(missing.message).toBe('METRICS_UTILITY_SHIP_TARGET=ingress needs TALLY_INGRESS_SETTINGS');
    const seen: { auth?: string; identity?: string; type?: string }[] = [];
    const server = createServer((req, res) => {
      seen.push({ auth: req.headers.authorization, identity: req.headers['x-rh-identity'] as string, type: req.headers['content-type'] });
      req.resume();
      req.on('end', () => res.writeHead(202).end('{}'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const file = join(scratch, 'ingress.json');
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/upload`;
      writeFileSync(file, JSON.stringify({ url, auth: { type: 'bearer', token: 'factory-token-77' }, headers: { 'x-rh-identity': 'eyJpZCI6MX0=' } }));
      const storage = await createSink(cfg({ METRICS_UTILITY_SHIP_TARGET: 'ingress', TALLY_INGRESS_SETTINGS: file }));
      try {
        expect(storage.describe()).toMatchObject({ backend: 'ingress', url, auth: { type: 'bearer' }, headers: ['x-rh-identity'] });
        expect(JSON.stringify(storage.describe())).not.toContain('factory-token-77');
        await storage.put('data/2024/03/11/x-0.tar.gz', { buffer: 'bytes' });
        expect(isStore(storage)).toBe(false);
      } finally {
        await storage.close?.();
      }
      expect(seen).toEqual([{ auth: 'Bearer factory-token-77', identity: 'eyJpZCI6MX0=', type: expect.stringMatching(/^multipart\/form-data; boundary=/) }]);
      writeFileSync(file, JSON.stringify({ url, auth: { type: 'basic', username: 'u' } }));
      const bad = await configError(createSink(cfg({ METRICS_UTILITY_SHIP_TARGET: 'ingress', TALLY_INGRESS_SETTINGS: file })));
      expect(bad.message).toBe(`ingress settings ${file}: auth.password is required: a non-empty string`);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('report and rollup: only a Store (directory, s3); put-only targets are refused naming why', async () => {
    const why: Record<string, RegExp> = {
      crc: /^METRICS_UTILITY_SHIP_TARGET=crc cannot be read back \(the console ingress only accepts uploads\); tally report reads tarballs from directory or s3 \(or controller_db\)$/,
      'crc-mutual': /crc-mutual cannot be read back \(the console ingress only accepts uploads\)/,
      segment: /segment cannot be read back \(Segment only receives analytics events\)/,
      postgres: /postgres cannot be read back/,
    };
    for (const [target, re] of Object.entries(why)) {
      // Complete settings: the refusal is about what the target can do, not what is missing.
      const env = { METRICS_UTILITY_SHIP_TARGET: target, METRICS_UTILITY_SERVICE_ACCOUNT_ID: 'i', METRICS_UTILITY_SERVICE_ACCOUNT_SECRET: 's', DATABASE_URL: 'postgres://127.0.0.1:1/x' };
      const err = await configError(createStore(cfg(env), 'report'));
      expect(err.field).toBe('METRICS_UTILITY_SHIP_TARGET');
      expect(err.message).toMatch(re);
      expect((await configError(createStore(cfg(env), 'rollup'))).message).toMatch(/tally rollup reads tarballs from directory or s3$/);
    }
    await expect(createSink(cfg({ METRICS_UTILITY_SHIP_TARGET: 'controller_db' }))).rejects.toThrow(/not a storage to ship to/);
    await expect(createStore(cfg({ METRICS_UTILITY_SHIP_TARGET: 'controller_db' }), 'rollup')).rejects.toThrow(/not a storage to read tarballs from/);
    const s = await createStore(cfg({ METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: scratch }), 'report');
    expect(s.backend).toBe('directory');
    const b = await createStore(cfg({ METRICS_UTILITY_SHIP_TARGET: 's3', METRICS_UTILITY_BUCKET_NAME: 'b', METRICS_UTILITY_SHIP_PATH: '/billing/tally/' }), 'rollup');
    expect(b).toBeInstanceOf(S3Storage);
    expect(b.describe()).toMatchObject({ bucket: 'b', prefix: 'billing/tally' });
    await b.close?.();
  });

  describe('postgres', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase('factory');
    });
    afterAll(async () => {
      await db?.drop();
    });

    it('needs DATABASE_URL', async () => {
      const err = await configError(createSink(cfg({ METRICS_UTILITY_SHIP_TARGET: 'postgres' })));
      expect(err.message).toBe('METRICS_UTILITY_SHIP_TARGET=postgres needs DATABASE_URL');
    });

    it('creates METRICS_UTILITY_STORAGE_TABLE and stores into it', async () => {
      const s = await createSink(cfg({ METRICS_UTILITY_SHIP_TARGET: 'postgres', DATABASE_URL: db.url, METRICS_UTILITY_STORAGE_TABLE: 'public.shipped' }));
      try {
        expect(s).toBeInstanceOf(PostgresStorage);
        expect(s.describe()).toMatchObject({ backend: 'postgres', table: 'public.shipped' });
        await s.put('rollup.json', { dict: { hosts: 3 } });
        const c = await db.client();
        const { rows } = await c.query('SELECT key, value FROM public.shipped');
        expect(rows).toEqual([{ key: 'rollup.json', value: { hosts: 3 } }]);
      } finally {
        await s.close?.();
      }
    });
  });
});
