import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  ConfigError,
  type ConfigKey,
  DEFAULT_RETRY,
  loadConfig,
  requireConfig,
  type TallyConfig,
  type Logger,
  MiB,
  type RetryPolicy,
  StorageError,
  errorMessage,
  silentLogger,
  statusOf,
  tempdir,
  withRetry,
} from '@tally/core';
import { type GlobOptions, type LocalFile, type PutSource, type Store, checkName, dateFilter, globPrefix, globToRegExp, putBody, tempLocalFile } from '@tally/storage';

/** `WHEN_REQUIRED` sends no payload checksums unless an operation needs one; `WHEN_SUPPORTED` is the SDK default. */
export type ChecksumMode = 'WHEN_REQUIRED' | 'WHEN_SUPPORTED';

export interface S3Options {
  /** METRICS_UTILITY_BUCKET_NAME */
  bucket: string;
  /**
   * METRICS_UTILITY_SHIP_PATH: the key prefix every name lives under, as metrics-utility writes
   * `{ship_path}/data/YYYY/MM/DD/{tarball}`. Leading and trailing slashes are dropped (keys never
   * start with `/`); empty or unset means the bucket root.
   */
  prefix?: string;
  /** METRICS_UTILITY_BUCKET_ENDPOINT: an S3-compatible server; unset means AWS. */
  endpoint?: string;
  /** METRICS_UTILITY_BUCKET_REGION (default us-east-1). */
  region?: string;
  /** METRICS_UTILITY_BUCKET_ACCESS_KEY / _SECRET_KEY: both or neither; neither uses the default AWS credential chain. */
  accessKey?: string;
  secretKey?: string;
  /** Path-style addressing (`endpoint/bucket/key`). Default: true with a custom endpoint, false for AWS. */
  forcePathStyle?: boolean;
  /**
   * Payload checksums. Default `WHEN_REQUIRED` with a custom endpoint, because some
   * S3-compatible servers store the aws-chunked framing of streamed uploads as data.
   */
  checksum?: ChecksumMode;
  /** TCP connect timeout (default 10 s). */
  connectTimeoutMs?: number;
  /** Read timeout: the socket may stay idle this long while sending or waiting for a response (default 120 s). */
  readTimeoutMs?: number;
  /** Retry policy for every request (default core DEFAULT_RETRY). */
  retry?: Partial<RetryPolicy>;
  /** Objects larger than this go up as multipart uploads of this part size (default 8 MiB, minimum 5 MiB). */
  partSize?: number;
  /** Parts uploaded in parallel (default 4). */
  queueSize?: number;
  /** Keys per ListObjectsV2 page (default: the server's, 1000 on AWS). */
  listPageSize?: number;
  logger?: Logger;
}

const BACKEND = 's3';

/** `/a/b/` → `a/b`: the ship path as a key prefix; `..` is refused, empty parts and `.` dropped. */
export function keyPrefix(shipPath: string | undefined): string {
  const parts = (shipPath ?? '').split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) {
    throw new ConfigError(`storage s3: ship path "${shipPath}" contains "..", which is not a key prefix`, { field: 'METRICS_UTILITY_SHIP_PATH' });
  }
  return parts.join('/');
}

/**
 * S3 and S3-compatible servers. Every operation is retried with the core retry
 * policy (SDK retries are off so there is one policy); stream sources are spooled
 * to a temporary file first so that a retried upload can start again from byte 0.
 */
/** The settings the S3 backend reads (METRICS_UTILITY_BUCKET_*, and the ship path as the key prefix). */
const SETTINGS = ['bucketName', 'shipPath', 'bucketEndpoint', 'bucketRegion', 'bucketAccessKey', 'bucketSecretKey'] as const satisfies readonly ConfigKey[];

export class S3Storage implements Store {
  readonly backend = BACKEND;
  readonly bucket: string;
  /** Key prefix (the ship path), without slashes at either end; '' for the bucket root. */
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly opts: S3Options;
  private readonly retry: Partial<RetryPolicy>;
  private readonly log: Logger;
  private readonly partSize: number;
  private readonly checksum: ChecksumMode;

  /**
   * From METRICS_UTILITY_BUCKET_NAME (required), _BUCKET_ENDPOINT, _BUCKET_REGION, _BUCKET_ACCESS_KEY,
   * _BUCKET_SECRET_KEY and METRICS_UTILITY_SHIP_PATH (the key prefix, as metrics-utility writes keys) in `env`,
   * each validated; a bad or missing one is one ConfigError line.
   */
  static fromEnv(env: Record<string, string | undefined>, extra: Partial<S3Options> = {}): S3Storage {
    return S3Storage.fromConfig(loadConfig({ env, keys: SETTINGS }), extra);
  }

  /** From `loadConfig()` values (environment and config file, as the CLI reads them). */
  static fromConfig(cfg: Pick<TallyConfig, (typeof SETTINGS)[number]>, extra: Partial<S3Options> = {}): S3Storage {
    const c = requireConfig(cfg, ['bucketName'], 'METRICS_UTILITY_SHIP_TARGET=s3');
    return new S3Storage({
      bucket: c.bucketName,
      ...(cfg.shipPath ? { prefix: cfg.shipPath } : {}),
      ...(cfg.bucketEndpoint ? { endpoint: cfg.bucketEndpoint } : {}),
      ...(cfg.bucketRegion ? { region: cfg.bucketRegion } : {}),
      ...(cfg.bucketAccessKey ? { accessKey: cfg.bucketAccessKey } : {}),
      ...(cfg.bucketSecretKey ? { secretKey: cfg.bucketSecretKey } : {}),
      ...extra,
    });
  }

  constructor(opts: S3Options) {
    if (!opts.bucket) throw new ConfigError('storage s3: bucket not set (METRICS_UTILITY_BUCKET_NAME)', { field: 'METRICS_UTILITY_BUCKET_NAME' });
    if (Boolean(opts.accessKey) !== Boolean(opts.secretKey)) {
      throw new ConfigError(
        'storage s3: set both METRICS_UTILITY_BUCKET_ACCESS_KEY and METRICS_UTILITY_BUCKET_SECRET_KEY, or neither to use the default AWS credential chain',
        { field: opts.accessKey ? 'METRICS_UTILITY_BUCKET_SECRET_KEY' : 'METRICS_UTILITY_BUCKET_ACCESS_KEY' },
      );
    }
    if (opts.endpoint !== undefined) {
      let u: URL;
      try {
        u = new URL(opts.endpoint);
      } catch {
        throw new ConfigError(`storage s3: endpoint "${opts.endpoint}" is not a URL; expected e.g. https://s3.example.com`, { field: 'METRICS_UTILITY_BUCKET_ENDPOINT' });
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') {
        throw new ConfigError(`storage s3: endpoint "${opts.endpoint}" must be http:// or https://`, { field: 'METRICS_UTILITY_BUCKET_ENDPOINT' });
      }
    }
    this.opts = opts;
    this.bucket = opts.bucket;
    this.prefix = keyPrefix(opts.prefix);
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.log = opts.logger ?? silentLogger;
    this.partSize = Math.max(5 * MiB, opts.partSize ?? 8 * MiB);
    const custom = opts.endpoint !== undefined;
    const checksum = opts.checksum ?? (custom ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED');
    this.checksum = checksum;
    const config: S3ClientConfig = {
      region: opts.region || 'us-east-1',
      forcePathStyle: opts.forcePathStyle ?? custom,
      requestChecksumCalculation: checksum,
      responseChecksumValidation: checksum,
      // One retry policy for all backends: ours, around whole operations.
      maxAttempts: 1,
      requestHandler: {
        connectionTimeout: opts.connectTimeoutMs ?? 10_000,
        // An idle-socket timeout, not a total one: a 1 GB upload may take long, a silent server may not.
        socketTimeout: opts.readTimeoutMs ?? 120_000,
      },
    };
    if (opts.endpoint) config.endpoint = opts.endpoint;
    if (opts.accessKey && opts.secretKey) config.credentials = { accessKeyId: opts.accessKey, secretAccessKey: opts.secretKey };
    this.client = new S3Client(config);
  }

  /** The object key of a (checked) name. */
  private key(name: string): string {
    checkName(BACKEND, name);
    return this.prefix ? `${this.prefix}/${name}` : name;
  }

  private fail(op: string, name: string, err: unknown): Error {
    if (err instanceof StorageError || err instanceof ConfigError) return err;
    const status = statusOf(err);
    const code = (err as { name?: string }).name;
    let why = errorMessage(err);
    if (code === 'CredentialsProviderError') {
      why = `no AWS credentials found; set METRICS_UTILITY_BUCKET_ACCESS_KEY and METRICS_UTILITY_BUCKET_SECRET_KEY or configure the default credential chain (${why})`;
    } else if (status !== undefined) {
      why = `HTTP ${status}${code && code !== 'Error' && code !== 'UnknownError' ? ` ${code}` : ''}${why && why !== code && why !== 'UnknownError' ? `: ${why}` : ''}`;
    }
    return new StorageError(BACKEND, `${op} s3://${this.bucket}/${this.prefix ? `${this.prefix}/` : ''}${name} failed: ${why}`, { cause: err, ...(status !== undefined ? { status } : {}) });
  }

  private run<T>(op: string, name: string, fn: (attempt: number) => Promise<T>): Promise<T> {
    return withRetry(fn, {
      ...this.retry,
      onRetry: (err, attempt, delayMs) =>
        this.log.warn(`s3 ${op} ${name}: attempt ${attempt} failed, retrying`, { error: errorMessage(err), status: statusOf(err), delayMs }),
    }).catch((err: unknown) => {
      throw this.fail(op, name, err);
    });
  }

  async put(name: string, source: PutSource): Promise<void> {
    const key = this.key(name);
    // A stream is spooled by putBody, so every attempt can start again from byte 0.
    const body = await putBody(BACKEND, name, source);
    try {
      if (body.data) await this.putBytes(key, name, body.data, body.kind === 'dict' ? body.contentType : undefined);
      else await this.putFile(key, name, body.path!, body.size!);
    } finally {
      await body.release();
    }
  }

  private async putBytes(key: string, name: string, body: Buffer, contentType?: string): Promise<void> {
    if (body.length > this.partSize) {
      await this.run('put', name, () => this.upload(key, Readable.from([body]), body.length));
      return;
    }
    await this.run('put', name, () => this.putObject(key, body, contentType));
  }

  /**
   * One PutObject. Without SDK checksums (WHEN_REQUIRED) we still send Content-MD5,
   * so the server rejects a body damaged on the way instead of storing it.
   */
  private putObject(key: string, body: Buffer, contentType?: string) {
    return this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentLength: body.length,
        ...(this.checksum === 'WHEN_REQUIRED' ? { ContentMD5: createHash('md5').update(body).digest('base64') } : {}),
        ...(contentType ? { ContentType: contentType } : {}),
      }),
    );
  }

  private async putFile(key: string, name: string, filename: string, size: number): Promise<void> {
    await this.run('put', name, async () => {
      const fh = await open(filename, 'r');
      try {
        if (size <= this.partSize) {
          await this.putObject(key, await fh.readFile());
        } else {
          await this.upload(key, fh.createReadStream({ autoClose: false }), size);
        }
      } finally {
        await fh.close();
      }
    });
  }

  /** A multipart upload; `size` lets lib-storage check that every part arrived. */
  private async upload(key: string, body: Readable, size: number): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body, ContentLength: size },
      partSize: this.partSize,
      queueSize: this.opts.queueSize ?? 4,
      // We abort ourselves: lib-storage would throw the abort's error instead of the
      // part's, hiding a retryable failure behind e.g. a 405 from a server without abort.
      leavePartsOnError: true,
    });
    try {
      await upload.done();
    } catch (err) {
      if (upload.uploadId) {
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: upload.uploadId })).catch((abortErr: unknown) =>
          this.log.warn(`s3 put ${key}: could not abort multipart upload ${upload.uploadId}; its parts may linger until a lifecycle rule removes them`, {
            error: errorMessage(abortErr),
          }),
        );
      }
      throw err;
    }
  }

  async get(name: string): Promise<LocalFile> {
    const key = this.key(name);
    const dir = await tempdir('tally-s3-get');
    const path = join(dir.path, basename(name));
    try {
      await this.run('get', name, async () => {
        const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
        if (!res.Body) throw new Error('empty response body');
        await pipeline(res.Body as Readable, createWriteStream(path));
      });
    } catch (err) {
      await dir.remove();
      if (statusOf((err as StorageError).cause) === 404) throw new StorageError(BACKEND, `get s3://${this.bucket}/${key}: no such object`, { cause: err, status: 404 });
      throw err;
    }
    return tempLocalFile(path, dir);
  }

  /** Size and ETag of `name` from a HEAD request: what a listing shows, without a download. */
  async stat(name: string): Promise<{ size: number; etag?: string }> {
    const key = this.key(name);
    try {
      const res = await this.run('stat', name, () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })));
      return { size: Number(res.ContentLength ?? 0), ...(res.ETag ? { etag: res.ETag } : {}) };
    } catch (err) {
      if (statusOf((err as StorageError).cause) === 404 || statusOf(err) === 404) throw new StorageError(BACKEND, `stat s3://${this.bucket}/${key}: no such object`, { cause: err, status: 404 });
      throw err;
    }
  }

  async exists(name: string): Promise<boolean> {
    const key = this.key(name);
    return this.run('exists', name, async () => {
      try {
        await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
        return true;
      } catch (err) {
        if (statusOf(err) === 404) return false;
        throw err;
      }
    });
  }

  async remove(name: string): Promise<void> {
    const key = this.key(name);
    await this.run('remove', name, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
  }

  /** fnmatch semantics: `*` and `?` also match `/`. Listed from the literal prefix, page by page; names come back without the key prefix. */
  async glob(pattern: string, opts: GlobOptions = {}): Promise<string[]> {
    checkName(BACKEND, pattern);
    const literal = globPrefix(pattern);
    const listFrom = this.prefix ? `${this.prefix}/${literal}` : literal;
    const re = globToRegExp(pattern, false);
    const strip = this.prefix ? this.prefix.length + 1 : 0;
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.run('glob', pattern, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: listFrom, ...(this.opts.listPageSize ? { MaxKeys: this.opts.listPageSize } : {}), ...(token ? { ContinuationToken: token } : {}) })),
      );
      for (const o of page.Contents ?? []) {
        const name = o.Key?.slice(strip);
        if (name && re.test(name) && dateFilter(name, opts)) out.push(name);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  }

  describe(): Record<string, unknown> {
    return {
      backend: BACKEND,
      bucket: this.bucket,
      ...(this.prefix ? { prefix: this.prefix } : {}),
      endpoint: this.opts.endpoint ?? 'aws',
      region: this.opts.region || 'us-east-1',
      staticKeys: Boolean(this.opts.accessKey),
    };
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
