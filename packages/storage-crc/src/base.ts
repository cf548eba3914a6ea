import { StorageError } from '@tally/core';
import { type LocalFile, type PutSource, type Storage, checkName } from '@tally/storage';
import { type IngressUploader, preparePayload } from './upload.js';

/**
 * What CRC and CRCMutual share: put-only (the ingress cannot be read back), a
 * payload prepared once so retries resend the same bytes.
 */
export abstract class IngressStorage implements Storage {
  abstract readonly backend: string;
  protected abstract readonly uploader: IngressUploader;

  /** Send one prepared payload; subclasses add authentication. */
  protected abstract send(name: string, payload: Awaited<ReturnType<typeof preparePayload>>): Promise<void>;

  async put(name: string, source: PutSource): Promise<void> {
    checkName(this.backend, name);
    const payload = await preparePayload(this.backend, name, source);
    try {
      await this.send(name, payload);
    } finally {
      await payload.release();
    }
  }

  async get(name: string): Promise<LocalFile> {
    throw this.unsupported('get', name);
  }

  async exists(name: string): Promise<boolean> {
    throw this.unsupported('exists', name);
  }

  async remove(name: string): Promise<void> {
    throw this.unsupported('remove', name);
  }

  async glob(pattern: string): Promise<string[]> {
    throw this.unsupported('glob', pattern);
  }

  private unsupported(op: string, name: string): StorageError {
    return new StorageError(this.backend, `${op} ${name}: not supported, the console ingress is a put-only backend`);
  }

  async close(): Promise<void> {
    await this.uploader.close();
  }

  abstract describe(): Record<string, unknown>;
}
