import { ConfigError, ENV, type Logger, type TallyConfig, silentLogger } from '@tally/core';
import { DirectoryStorage, type Sink, type Store } from '@tally/storage';
// Backends are loaded only when chosen: the AWS SDK alone adds about a second to every start.
import type { CrcMutualOptions, CrcOptions, IngressSettings } from '@tally/storage-crc';
import type { PostgresStorageOptions } from '@tally/storage-postgres';
import type { S3Options } from '@tally/storage-s3';

export type ShipTarget = 'directory' | 's3' | 'crc' | 'crc-mutual' | 'segment' | 'postgres' | 'ingress';

/** Commands that read tarballs back and write their output next to them. */
export type StoreCommand = 'report' | 'rollup';

export interface CreateStorageOptions {
  logger?: Logger;
  /** Create the PostgreSQL storage table when missing (default true). */
  createTable?: boolean;
  /** Per-backend overrides on top of the environment (retry policies, loopback-only test switches). */
  s3?: Partial<S3Options>;
  crc?: Partial<CrcOptions>;
  crcMutual?: Partial<CrcMutualOptions>;
  ingress?: Partial<IngressSettings>;
  postgres?: Partial<PostgresStorageOptions>;
}

const FIELD = ENV.shipTarget.env;
const SINK_TARGETS = 'directory, s3, crc, crc-mutual, postgres or ingress';
const STORE_TARGETS = 'directory or s3';

/** Why a target cannot be read back, for the one line that refuses it. */
const NOT_READABLE: Record<Exclude<ShipTarget, 'directory' | 's3'>, string> = {
  crc: 'the console ingress only accepts uploads',
  'crc-mutual': 'the console ingress only accepts uploads',
  segment: 'Segment only receives analytics events',
  postgres: 'Tally reads tarballs back only from a directory or a bucket',
  ingress: 'an ingress only accepts uploads',
};

function shipTarget(cfg: TallyConfig, expected: string, what: string): ShipTarget {
  const target = cfg.shipTarget;
  if (!target) throw new ConfigError(`${FIELD} is not set; expected ${expected}`, { field: FIELD });
  if (target === 'controller_db') {
    throw new ConfigError(`${FIELD}=controller_db reads the controller database directly; it is not a storage to ${what}`, { field: FIELD });
  }
  return target;
}

// Each backend reads its own settings (`fromConfig`, next to it); the CLI only picks the backend.
function directory(cfg: TallyConfig): DirectoryStorage {
  return DirectoryStorage.fromConfig(cfg);
}

/** S3 keys live under METRICS_UTILITY_SHIP_PATH, as metrics-utility writes them (unset: the bucket root). */
async function s3(cfg: TallyConfig, opts: CreateStorageOptions): Promise<Store> {
  const { S3Storage } = await import('@tally/storage-s3');
  return S3Storage.fromConfig(cfg, { logger: opts.logger ?? silentLogger, ...opts.s3 });
}

/**
 * The Sink `gather --ship` sends tarballs to, from METRICS_UTILITY_SHIP_TARGET and
 * the section-3 variables. Missing variables are reported together in one
 * ConfigError; `segment` is refused, since Segment takes dicts, not tarballs.
 */
export async function createSink(cfg: TallyConfig, opts: CreateStorageOptions = {}): Promise<Sink> {
  const logger = opts.logger ?? silentLogger;
  const target = shipTarget(cfg, SINK_TARGETS, 'ship to');
  switch (target) {
    case 'directory':
      return directory(cfg);
    case 's3':
      return s3(cfg, opts);
    case 'crc': {
      const { CrcStorage } = await import('@tally/storage-crc');
      return CrcStorage.fromConfig(cfg, { logger, ...opts.crc });
    }
    case 'crc-mutual': {
      // The client certificate defaults to /etc/pki/consumer/{cert,key}.pem, as the reference.
      const { CrcMutualStorage } = await import('@tally/storage-crc');
      return CrcMutualStorage.fromConfig(cfg, { logger, ...opts.crcMutual });
    }
    case 'ingress': {
      const { IngressSink } = await import('@tally/storage-crc');
      return IngressSink.fromConfig(cfg, { logger, ...opts.ingress });
    }
    case 'segment': {
      const { SEGMENT_ACCEPTS } = await import('@tally/storage-segment');
      throw new ConfigError(`${FIELD}=segment cannot take gathered tarballs: ${SEGMENT_ACCEPTS}; gather ships to ${SINK_TARGETS}`, { field: FIELD });
    }
    case 'postgres': {
      const { PostgresStorage } = await import('@tally/storage-postgres');
      const storage = PostgresStorage.fromConfig(cfg, opts.postgres);
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
 * The Store `report` and `rollup` read tarballs from and write their output to.
 * A target that cannot be read back is refused before anything connects.
 */
export async function createStore(cfg: TallyConfig, command: StoreCommand, opts: CreateStorageOptions = {}): Promise<Store> {
  const target = shipTarget(cfg, command === 'report' ? `${STORE_TARGETS} (or controller_db)` : STORE_TARGETS, `read tarballs from`);
  switch (target) {
    case 'directory':
      return directory(cfg);
    case 's3':
      return s3(cfg, opts);
    default:
      throw new ConfigError(
        `${FIELD}=${target} cannot be read back (${NOT_READABLE[target]}); tally ${command} reads tarballs from ${STORE_TARGETS}${command === 'report' ? ' (or controller_db)' : ''}`,
        { field: FIELD },
      );
  }
}
