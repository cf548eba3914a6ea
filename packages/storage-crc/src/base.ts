import { type PutSource, PutOnlyStorage, type Storage, checkName } from '@tally/storage';
import { type IngressUploader, preparePayload } from './upload.js';

/**
 * What CRC and CRCMutual share: put-only (the ingress cannot be read back), a
 * payload prepared once so retries resend the same bytes.
 */
export abstract class IngressStorage extends PutOnlyStorage implements Storage {
  protected readonly putOnlyReason = 'the console ingress is a put-only backend';
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


  async close(): Promise<void> {
    await this.uploader.close();
  }

  abstract describe(): Record<string, unknown>;
}
