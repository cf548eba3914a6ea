import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@tally/core';
import { DirectoryStorage } from '@tally/storage';
import { CrcStorage } from '@tally/storage-crc';
import { PostgresStorage } from '@tally/storage-postgres';
import { S3Storage } from '@tally/storage-s3';
import { SegmentStorage } from '@tally/storage-segment';
import { afterEach, describe, expect, it } from 'vitest';

// Each backend reads its own METRICS_UTILITY_* settings (`fromEnv(env)`, next to the backend), validated with the
// one configuration schema: a bad value or a missing required one is a single ConfigError line naming the variable.
// Library code reads only the `env` it is given, never process.env.

const root = fileURLToPath(new URL('..', import.meta.url));

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const saved = { ...process.env };
afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
});

describe('backends build themselves from their own settings', () => {
  it('directory: METRICS_UTILITY_SHIP_PATH', () => {
    expect(DirectoryStorage.fromEnv({ METRICS_UTILITY_SHIP_PATH: '/srv/ship' }).base).toBe('/srv/ship');
    expect(configError(() => DirectoryStorage.fromEnv({})).message).toBe('METRICS_UTILITY_SHIP_TARGET=directory needs METRICS_UTILITY_SHIP_PATH');
  });

  it('s3: METRICS_UTILITY_BUCKET_* with the ship path as the key prefix; a bad endpoint is one line', async () => {
    const s3 = S3Storage.fromEnv({
      METRICS_UTILITY_BUCKET_NAME: 'billing',
      METRICS_UTILITY_SHIP_PATH: '/metrics-utility/',
      METRICS_UTILITY_BUCKET_ENDPOINT: 'http://127.0.0.1:9000',
      METRICS_UTILITY_BUCKET_REGION: 'eu-west-1',
      METRICS_UTILITY_BUCKET_ACCESS_KEY: 'id',
      METRICS_UTILITY_BUCKET_SECRET_KEY: 'secret',
    });
    expect(s3.describe()).toEqual({ backend: 's3', bucket: 'billing', prefix: 'metrics-utility', endpoint: 'http://127.0.0.1:9000', region: 'eu-west-1', staticKeys: true });
    await s3.close();
    expect(configError(() => S3Storage.fromEnv({})).message).toBe('METRICS_UTILITY_SHIP_TARGET=s3 needs METRICS_UTILITY_BUCKET_NAME');
    const bad = configError(() => S3Storage.fromEnv({ METRICS_UTILITY_BUCKET_NAME: 'b', METRICS_UTILITY_BUCKET_ENDPOINT: 'not a url' }));
    expect(bad.message).toBe('METRICS_UTILITY_BUCKET_ENDPOINT="not a url" is invalid; expected a URL such as https://s3.example.com');
    expect(bad.message).not.toContain('\n');
  });

  it('postgres: DATABASE_URL and METRICS_UTILITY_STORAGE_TABLE', async () => {
    const pgs = PostgresStorage.fromEnv({ DATABASE_URL: 'postgres://tally:pw@127.0.0.1:5432/billing', METRICS_UTILITY_STORAGE_TABLE: 'public.artifacts' });
    expect(pgs.describe()).toEqual({ backend: 'postgres', table: 'public.artifacts', database: '127.0.0.1:5432/billing' });
    await pgs.close();
    expect(configError(() => PostgresStorage.fromEnv({})).message).toBe('METRICS_UTILITY_SHIP_TARGET=postgres needs DATABASE_URL');
  });

  it('segment: METRICS_UTILITY_SEGMENT_WRITE_KEY and _HOST', async () => {
    const seg = SegmentStorage.fromEnv({ METRICS_UTILITY_SEGMENT_WRITE_KEY: 'wk', METRICS_UTILITY_SEGMENT_HOST: 'http://127.0.0.1:1' });
    expect(seg.describe()).toEqual({ backend: 'segment', host: 'http://127.0.0.1:1', event: 'Metrics Artifact Upload' });
    await seg.close();
    expect(configError(() => SegmentStorage.fromEnv({ METRICS_UTILITY_SEGMENT_WRITE_KEY: 'wk', METRICS_UTILITY_SEGMENT_HOST: 'segment' })).message).toBe(
      'METRICS_UTILITY_SEGMENT_HOST="segment" is invalid; expected a URL',
    );
  });

  it('crc: the service account is required, named in one line', async () => {
    expect(configError(() => CrcStorage.fromEnv({})).message).toBe(
      'METRICS_UTILITY_SHIP_TARGET=crc needs METRICS_UTILITY_SERVICE_ACCOUNT_ID, METRICS_UTILITY_SERVICE_ACCOUNT_SECRET',
    );
    const crc = CrcStorage.fromEnv({
      METRICS_UTILITY_SERVICE_ACCOUNT_ID: 'svc',
      METRICS_UTILITY_SERVICE_ACCOUNT_SECRET: 'shh',
      METRICS_UTILITY_CRC_INGRESS_URL: 'https://ingress.example.com/upload',
    });
    expect(crc.describe()).toMatchObject({ backend: 'crc', clientId: 'svc', ingressUrl: 'https://ingress.example.com/upload' });
    await crc.close();
  });

  it('reads only the env it is given: process.env neither fills nor breaks it', () => {
    process.env.METRICS_UTILITY_SHIP_PATH = '/from/process/env';
    process.env.METRICS_UTILITY_BUCKET_ENDPOINT = 'not a url';
    expect(configError(() => DirectoryStorage.fromEnv({})).message).toContain('needs METRICS_UTILITY_SHIP_PATH');
    expect(S3Storage.fromEnv({ METRICS_UTILITY_BUCKET_NAME: 'b' }).describe()).toMatchObject({ endpoint: 'aws' });
  });
});

describe('library code never reads process.env', () => {
  it('no package but the CLI (and the private testkit) names process.env in its source', () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (name.endsWith('.ts') && /\bprocess\.env\b/.test(readFileSync(path, 'utf8').replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, ''))) offenders.push(path.slice(root.length));
      }
    };
    for (const pkg of readdirSync(join(root, 'packages'))) if (pkg !== 'cli' && pkg !== 'testkit') walk(join(root, 'packages', pkg, 'src'));
    expect(offenders).toEqual([]);
  });
});
