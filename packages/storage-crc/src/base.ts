import { type PutSource, type Sink, checkName } from '@tally/storage';
import type { Logger, RetryPolicy } from '@tally/core';
import { type IngressUploader, type Timeouts, preparePayload } from './upload.js';

/** Options CRC and CRCMutual share: where the ingress is and how uploads reach it. */
export interface IngressOptions {
  /** METRICS_UTILITY_CRC_INGRESS_URL; default the console ingress. */
  ingressUrl?: string;
  /** METRICS_UTILITY_PROXY_URL (upload only). */
  proxyUrl?: string;
  /** METRICS_UTILITY_CRC_VERIFY_CERT_PATH: CA bundle used to verify the servers. */
  verifyCertPath?: string;
  timeouts?: Timeouts;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
}

/**
 * What CRC and CRCMutual share: a Sink, not a Store (the ingress cannot be read
 * back), and a payload prepared once so retries resend the same bytes.
 */
export abstract class IngressStorage implements Sink {
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

  async close(): Promise<void> {
    await this.uploader.close();
  }

  abstract describe(): Record<string, unknown>;
}
