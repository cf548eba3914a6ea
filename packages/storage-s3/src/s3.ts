import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
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
  DEFAULT_RETRY,
  type Logger,
  MiB,
  type RetryPolicy,
  StorageError,
  errorMessage,
  pythonJson,
  silentLogger,
  statusOf,
  tempdir,
  withRetry,
} from '@tally/core';
import { type GlobOptions, type LocalFile, type PutSource, type Storage, checkName, dateFilter, globPrefix, globToRegExp, tempLocalFile } from '@tally/storage';

/** `WHEN_REQUIRED` sends no payload checksums unless an operation needs one; `WHEN_SUPPORTED` is the SDK default. */
export type ChecksumMode = 'WHEN_REQUIRED' | 'WHEN_SUPPORTED';

export interface S3Options {
  /** METRICS_UTILITY_BUCKET_NAME */
  bucket: string;
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

/**
 * S3 and S3-compatible servers. Every operation is retried with the core retry
 * policy (SDK retries are off so there is one policy); stream sources are spooled
 * to a temporary file first so that a retried upload can start again from byte 0.
 */
export class S3Storage implements Storage {
  readonly backend = BACKEND;
  readonly bucket: string;
  private readonly client: S3Client;
  private readonly opts: S3Options;
  private readonly retry: Partial<RetryPolicy>;
  private readonly log: Logger;
  private readonly partSize: number;
  private readonly checksum: ChecksumMode;

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
    return new StorageError(BACKEND, `${op} s3://${this.bucket}/${name} failed: ${why}`, { cause: err, ...(status !== undefined ? { status } : {}) });
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
    checkName(BACKEND, name);
    if ('dict' in source) return this.putBytes(name, Buffer.from(pythonJson(source.dict), 'utf8'), 'application/json');
    if ('buffer' in source) {
      const b = typeof source.buffer === 'string' ? Buffer.from(source.buffer, 'utf8') : Buffer.from(source.buffer.buffer, source.buffer.byteOffset, source.buffer.byteLength);
      return this.putBytes(name, b);
    }
    if ('filename' in source) return this.putFile(name, source.filename);
    // A stream can be read once: spool it so every attempt can start again.
    const spool = await tempdir('tally-s3-put');
    try {
      const path = join(spool.path, 'body');
      try {
        await pipeline(source.stream, createWriteStream(path));
      } catch (err) {
        throw new StorageError(BACKEND, `put s3://${this.bucket}/${name} failed reading the source stream: ${errorMessage(err)}`, { cause: err });
      }
      await this.putFile(name, path);
    } finally {
      await spool.remove();
    }
  }

  private async putBytes(name: string, body: Buffer, contentType?: string): Promise<void> {
    if (body.length > this.partSize) {
      await this.run('put', name, () => this.upload(name, Readable.from([body]), body.length));
      return;
    }
    await this.run('put', name, () => this.putObject(name, body, contentType));
  }

  /**
   * One PutObject. Without SDK checksums (WHEN_REQUIRED) we still send Content-MD5,
   * so the server rejects a body damaged on the way instead of storing it.
   */
  private putObject(name: string, body: Buffer, contentType?: string) {
    return this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: name,
        Body: body,
        ContentLength: body.length,
        ...(this.checksum === 'WHEN_REQUIRED' ? { ContentMD5: createHash('md5').update(body).digest('base64') } : {}),
        ...(contentType ? { ContentType: contentType } : {}),
      }),
    );
  }

  private async putFile(name: string, filename: string): Promise<void> {
    let size: number;
    try {
      const s = await stat(filename);
      if (!s.isFile()) throw new Error('not a regular file');
      size = s.size;
    } catch (err) {
      throw new StorageError(BACKEND, `put s3://${this.bucket}/${name} failed: cannot read ${filename}: ${errorMessage(err)}`, { cause: err });
    }
    await this.run('put', name, async () => {
      const fh = await open(filename, 'r');
      try {
        if (size <= this.partSize) {
          await this.putObject(name, await fh.readFile());
        } else {
          await this.upload(name, fh.createReadStream({ autoClose: false }), size);
        }
      } finally {
        await fh.close();
      }
    });
  }

  /** A multipart upload; `size` lets lib-storage check that every part arrived. */
  private async upload(name: string, body: Readable, size: number): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: name, Body: body, ContentLength: size },
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
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: name, UploadId: upload.uploadId })).catch((abortErr: unknown) =>
          this.log.warn(`s3 put ${name}: could not abort multipart upload ${upload.uploadId}; its parts may linger until a lifecycle rule removes them`, {
            error: errorMessage(abortErr),
          }),
        );
      }
      throw err;
    }
  }

  async get(name: string): Promise<LocalFile> {
    checkName(BACKEND, name);
    const dir = await tempdir('tally-s3-get');
    const path = join(dir.path, basename(name));
    try {
      await this.run('get', name, async () => {
        const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: name }));
        if (!res.Body) throw new Error('empty response body');
        await pipeline(res.Body as Readable, createWriteStream(path));
      });
    } catch (err) {
      await dir.remove();
      if (statusOf((err as StorageError).cause) === 404) throw new StorageError(BACKEND, `get s3://${this.bucket}/${name}: no such object`, { cause: err, status: 404 });
      throw err;
    }
    return tempLocalFile(path, dir);
  }

  async exists(name: string): Promise<boolean> {
    checkName(BACKEND, name);
    return this.run('exists', name, async () => {
      try {
        await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: name }));
        return true;
      } catch (err) {
        if (statusOf(err) === 404) return false;
        throw err;
      }
    });
  }

  async remove(name: string): Promise<void> {
    checkName(BACKEND, name);
    await this.run('remove', name, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: name })));
  }

  /** fnmatch semantics: `*` and `?` also match `/`. Listed from the literal prefix, page by page. */
  async glob(pattern: string, opts: GlobOptions = {}): Promise<string[]> {
    checkName(BACKEND, pattern);
    const re = globToRegExp(pattern, false);
    const prefix = globPrefix(pattern);
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.run('glob', pattern, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(this.opts.listPageSize ? { MaxKeys: this.opts.listPageSize } : {}), ...(token ? { ContinuationToken: token } : {}) })),
      );
      for (const o of page.Contents ?? []) if (o.Key && re.test(o.Key) && dateFilter(o.Key, opts)) out.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  }

  describe(): Record<string, unknown> {
    return {
      backend: BACKEND,
      bucket: this.bucket,
      endpoint: this.opts.endpoint ?? 'aws',
      region: this.opts.region || 'us-east-1',
      staticKeys: Boolean(this.opts.accessKey),
    };
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
