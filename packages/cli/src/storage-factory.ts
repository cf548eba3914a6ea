import { ConfigError, ENV, type Logger, StorageError, type TallyConfig, requireConfig, silentLogger } from '@tally/core';
import { DirectoryStorage, type Storage } from '@tally/storage';
// Backends are loaded only when chosen: the AWS SDK alone adds about a second to every start.
import type { CrcMutualOptions, CrcOptions, IngressSettings } from '@tally/storage-crc';
import type { PostgresStorageOptions } from '@tally/storage-postgres';
import type { S3Options } from '@tally/storage-s3';
import type { SegmentOptions } from '@tally/storage-segment';

export type ShipTarget = 'directory' | 's3' | 'crc' | 'crc-mutual' | 'segment' | 'postgres' | 'ingress';

export interface CreateStorageOptions {
  /** `gather` ships to any target; `report` reads tarballs back, so only directory and s3 make sense. */
  purpose?: 'gather' | 'report';
  logger?: Logger;
  /** Create the PostgreSQL storage table when missing (default true). */
  createTable?: boolean;
  /** Per-backend overrides on top of the environment (retry policies, loopback-only test switches). */
  s3?: Partial<S3Options>;
  crc?: Partial<CrcOptions>;
  crcMutual?: Partial<CrcMutualOptions>;
  ingress?: Partial<IngressSettings>;
  segment?: Partial<SegmentOptions>;
  postgres?: Partial<PostgresStorageOptions>;
}

const READABLE: readonly ShipTarget[] = ['directory', 's3'];

/**
 * Build the storage METRICS_UTILITY_SHIP_TARGET names from the section-3
 * variables. Missing variables are reported together in one ConfigError.
 */
export async function createStorage(cfg: TallyConfig, opts: CreateStorageOptions = {}): Promise<Storage> {
  const purpose = opts.purpose ?? 'gather';
  const logger = opts.logger ?? silentLogger;
  const target = cfg.shipTarget;
  const field = ENV.shipTarget.env;
  if (!target) {
    throw new ConfigError(`${field} is not set; expected ${purpose === 'report' ? READABLE.join(' or ') : 'directory, s3, crc, crc-mutual, segment, postgres or ingress'}`, { field });
  }
  if (target === 'controller_db') {
    throw new ConfigError(`${field}=controller_db reads the controller database directly; it is not a storage to ${purpose === 'report' ? 'read tarballs from' : 'ship to'}`, { field });
  }
  if (purpose === 'report' && !READABLE.includes(target)) {
    throw new ConfigError(`${field}=${target} cannot be read back for a report; expected directory or s3 (or controller_db)`, { field });
  }
  switch (target) {
    case 'directory': {
      const c = requireConfig(cfg, ['shipPath'], `${field}=directory`);
      return new DirectoryStorage({ base: c.shipPath });
    }
    case 's3': {
      const c = requireConfig(cfg, ['bucketName'], `${field}=s3`);
      const { S3Storage } = await import('@tally/storage-s3');
      return new S3Storage({
        bucket: c.bucketName,
        ...(cfg.bucketEndpoint ? { endpoint: cfg.bucketEndpoint } : {}),
        ...(cfg.bucketRegion ? { region: cfg.bucketRegion } : {}),
        ...(cfg.bucketAccessKey ? { accessKey: cfg.bucketAccessKey } : {}),
        ...(cfg.bucketSecretKey ? { secretKey: cfg.bucketSecretKey } : {}),
        logger,
        ...opts.s3,
      });
    }
    case 'crc': {
      requireConfig(cfg, ['serviceAccountId', 'serviceAccountSecret'], `${field}=crc`);
      const { CrcStorage } = await import('@tally/storage-crc');
      return CrcStorage.fromConfig(cfg, { logger, ...opts.crc });
    }
    case 'crc-mutual': {
      // The client certificate defaults to /etc/pki/consumer/{cert,key}.pem, as the reference.
      const { CrcMutualStorage } = await import('@tally/storage-crc');
      return CrcMutualStorage.fromConfig(cfg, { logger, ...opts.crcMutual });
    }
    case 'ingress': {
      const c = requireConfig(cfg, ['ingressSettings'], `${field}=ingress`);
      const { IngressSink, readIngressSettings } = await import('@tally/storage-crc');
      return putOnly(new IngressSink({ ...readIngressSettings(c.ingressSettings), logger, ...opts.ingress }), 'an ingress is a put-only target');
    }
    case 'segment': {
      requireConfig(cfg, ['segmentWriteKey'], `${field}=segment`);
      const { SegmentStorage } = await import('@tally/storage-segment');
      return SegmentStorage.fromConfig(cfg, { logger, ...opts.segment });
    }
    case 'postgres': {
      const c = requireConfig(cfg, ['databaseUrl'], `${field}=postgres`);
      const { PostgresStorage } = await import('@tally/storage-postgres');
      const storage = new PostgresStorage({ url: c.databaseUrl, ...(cfg.storageTable ? { table: cfg.storageTable } : {}), ...opts.postgres });
      if (opts.createTable ?? true) {
        try {
          await storage.ensureTable();
        } catch (err) {
          await storage.close();
          throw err;
        }
      }
      return storage;
    }
  }
}

/**
 * A put-only sink where gather still takes the whole Storage contract: reads fail
 * with the reason (gather only puts, and tolerates a failed look-up of earlier deliveries).
 */
function putOnly(sink: Pick<Storage, 'backend' | 'put' | 'describe' | 'close'>, reason: string): Storage {
  const refuse = (op: string) => async (name: string): Promise<never> => {
    throw new StorageError(sink.backend, `${op} ${name}: not supported, ${reason}`);
  };
  return {
    backend: sink.backend,
    put: (name, source) => sink.put(name, source),
    describe: () => sink.describe(),
    close: async () => sink.close?.(),
    get: refuse('get'),
    exists: refuse('exists'),
    remove: refuse('remove'),
    glob: refuse('glob'),
  };
}
