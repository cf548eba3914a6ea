import { type ConfigKey, loadConfig, type TallyConfig, silentLogger } from '@tally/core';
import { type IngressOptions, IngressStorage } from './base.js';
import { loadCaBundle, loadClientIdentity } from './tls.js';
import { DEFAULT_INGRESS_URL, IngressUploader, type PreparedPayload, checkUrl, safeUrl } from './upload.js';

export const DEFAULT_CLIENT_CERT_PATH = '/etc/pki/consumer/cert.pem';
export const DEFAULT_CLIENT_KEY_PATH = '/etc/pki/consumer/key.pem';

export interface CrcMutualOptions extends IngressOptions {
  /** METRICS_UTILITY_CRC_CERT_PATH: client certificate (chain), or one PEM with certificate and key. */
  certPath?: string;
  /** METRICS_UTILITY_CRC_KEY_PATH: the private key; omit when `certPath` holds both. */
  keyPath?: string;
}

/** The Red Hat console ingress over mutual TLS: the client certificate is the credential. */
/** The settings the mutual-TLS flavour reads (METRICS_UTILITY_CRC_*, _PROXY_URL). */
const SETTINGS = ['crcCertPath', 'crcKeyPath', 'crcIngressUrl', 'proxyUrl', 'crcVerifyCertPath'] as const satisfies readonly ConfigKey[];

export class CrcMutualStorage extends IngressStorage {
  readonly backend = 'crc-mutual';
  protected readonly uploader: IngressUploader;
  private readonly desc: Record<string, unknown>;

  constructor(opts: CrcMutualOptions = {}) {
    super();
    const ingressUrl = opts.ingressUrl ?? DEFAULT_INGRESS_URL;
    checkUrl(ingressUrl, 'METRICS_UTILITY_CRC_INGRESS_URL', 'storage crc-mutual: ingress URL', false);
    if (opts.proxyUrl) checkUrl(opts.proxyUrl, 'METRICS_UTILITY_PROXY_URL', 'storage crc-mutual: proxy URL', true);
    const certPath = opts.certPath ?? DEFAULT_CLIENT_CERT_PATH;
    // The reference default is two files; a single combined PEM is used when only certPath is given.
    const keyPath = opts.keyPath ?? (opts.certPath ? undefined : DEFAULT_CLIENT_KEY_PATH);
    const identity = loadClientIdentity(certPath, keyPath);
    const { ca, path } = loadCaBundle(opts.verifyCertPath);
    this.uploader = new IngressUploader({
      backend: this.backend,
      ingressUrl,
      ...(opts.proxyUrl ? { proxyUrl: opts.proxyUrl } : {}),
      tls: { ...(ca ? { ca } : {}), cert: identity.cert, key: identity.key },
      ...(opts.timeouts ? { timeouts: opts.timeouts } : {}),
      ...(opts.retry ? { retry: opts.retry } : {}),
      networkHint: `the server may have refused the client certificate ${certPath}; check that it is current and issued by a CA the ingress trusts`,
      logger: (opts.logger ?? silentLogger).child({ storage: 'crc-mutual' }),
    });
    this.desc = {
      backend: this.backend,
      ingressUrl: safeUrl(ingressUrl),
      certPath,
      ...(keyPath && keyPath !== certPath ? { keyPath } : {}),
      ...(opts.proxyUrl ? { proxyUrl: safeUrl(opts.proxyUrl) } : {}),
      ...(path ? { verifyCertPath: path } : {}),
    };
  }

  /**
   * From METRICS_UTILITY_CRC_CERT_PATH, _CRC_KEY_PATH (defaults /etc/pki/consumer/{cert,key}.pem), _CRC_INGRESS_URL,
   * _CRC_VERIFY_CERT_PATH and METRICS_UTILITY_PROXY_URL in `env`, validated.
   */
  static fromEnv(env: Record<string, string | undefined>, extra: Partial<CrcMutualOptions> = {}): CrcMutualStorage {
    return CrcMutualStorage.fromConfig(loadConfig({ env, keys: SETTINGS }), extra);
  }

  /** From `loadConfig()` values (environment and config file, as the CLI reads them). */
  static fromConfig(cfg: Pick<TallyConfig, (typeof SETTINGS)[number]>, extra: Partial<CrcMutualOptions> = {}): CrcMutualStorage {
    return new CrcMutualStorage({
      ...(cfg.crcIngressUrl ? { ingressUrl: cfg.crcIngressUrl } : {}),
      ...(cfg.crcCertPath ? { certPath: cfg.crcCertPath } : {}),
      ...(cfg.crcKeyPath ? { keyPath: cfg.crcKeyPath } : {}),
      ...(cfg.proxyUrl ? { proxyUrl: cfg.proxyUrl } : {}),
      ...(cfg.crcVerifyCertPath ? { verifyCertPath: cfg.crcVerifyCertPath } : {}),
      ...extra,
    });
  }

  protected async send(name: string, payload: PreparedPayload): Promise<void> {
    await this.uploader.upload(name, payload);
  }

  describe(): Record<string, unknown> {
    return { ...this.desc };
  }
}
