import { ConfigError, type ConfigKey, loadConfig, requireConfig, StorageError, type TallyConfig, silentLogger } from '@tally/core';
import { type IngressOptions, IngressStorage } from './base.js';
import { loadCaBundle } from './tls.js';
import { TokenSource } from './token.js';
import { DEFAULT_INGRESS_URL, IngressUploader, type PreparedPayload, checkUrl, safeUrl } from './upload.js';

export const DEFAULT_SSO_URL = 'https://sso.redhat.com/auth/realms/redhat-external/protocol/openid-connect/token';

export interface CrcOptions extends IngressOptions {
  /** METRICS_UTILITY_SERVICE_ACCOUNT_ID */
  clientId: string;
  /** METRICS_UTILITY_SERVICE_ACCOUNT_SECRET */
  clientSecret: string;
  /** METRICS_UTILITY_CRC_SSO_URL: the token endpoint; default Red Hat SSO. */
  ssoUrl?: string;
  /** Run OpenID discovery on this issuer instead of using `ssoUrl` as the token endpoint. */
  issuerUrl?: string;
  /** Extra token request parameters (e.g. `{ scope: 'api.console' }`). */
  tokenParameters?: Record<string, string>;
  /** Allow plain-http SSO and ingress URLs. Only for tests against loopback servers. */
  allowInsecureHttp?: boolean;
}

/**
 * The Red Hat console ingress with a service account: a client-credentials token
 * from SSO (cached until it nearly expires) as the bearer of each multipart upload.
 */
/** The settings the service-account flavour reads (METRICS_UTILITY_SERVICE_ACCOUNT_*, _CRC_*, _PROXY_URL). */
const SETTINGS = ['serviceAccountId', 'serviceAccountSecret', 'crcIngressUrl', 'crcSsoUrl', 'proxyUrl', 'crcVerifyCertPath'] as const satisfies readonly ConfigKey[];

export class CrcStorage extends IngressStorage {
  readonly backend = 'crc';
  protected readonly uploader: IngressUploader;
  private readonly tokens: TokenSource;
  private readonly opts: CrcOptions;
  private readonly caPath: string | undefined;

  constructor(opts: CrcOptions) {
    super();
    if (!opts.clientId) throw new ConfigError('storage crc: client_id not set (METRICS_UTILITY_SERVICE_ACCOUNT_ID)', { field: 'METRICS_UTILITY_SERVICE_ACCOUNT_ID' });
    if (!opts.clientSecret) {
      throw new ConfigError('storage crc: client_secret not set (METRICS_UTILITY_SERVICE_ACCOUNT_SECRET)', { field: 'METRICS_UTILITY_SERVICE_ACCOUNT_SECRET' });
    }
    const allowHttp = opts.allowInsecureHttp === true;
    const ingressUrl = opts.ingressUrl ?? DEFAULT_INGRESS_URL;
    const ssoUrl = opts.ssoUrl ?? DEFAULT_SSO_URL;
    checkUrl(ingressUrl, 'METRICS_UTILITY_CRC_INGRESS_URL', 'storage crc: ingress URL', allowHttp);
    if (opts.issuerUrl) checkUrl(opts.issuerUrl, 'issuerUrl', 'storage crc: SSO issuer', allowHttp);
    else checkUrl(ssoUrl, 'METRICS_UTILITY_CRC_SSO_URL', 'storage crc: SSO token URL', allowHttp);
    if (opts.proxyUrl) checkUrl(opts.proxyUrl, 'METRICS_UTILITY_PROXY_URL', 'storage crc: proxy URL', true);
    const { ca, path } = loadCaBundle(opts.verifyCertPath);
    this.caPath = path;
    this.opts = { ...opts, ingressUrl, ssoUrl };
    const logger = (opts.logger ?? silentLogger).child({ storage: 'crc' });
    this.tokens = new TokenSource({
      backend: this.backend,
      clientId: opts.clientId,
      clientSecret: opts.clientSecret,
      tokenUrl: ssoUrl,
      ...(opts.issuerUrl ? { issuerUrl: opts.issuerUrl } : {}),
      allowInsecureHttp: allowHttp,
      ...(ca ? { ca } : {}),
      timeoutSeconds: Math.ceil((opts.timeouts?.connectMs ?? 31_000) / 1000),
      ...(opts.tokenParameters ? { parameters: opts.tokenParameters } : {}),
      ...(opts.retry ? { retry: opts.retry } : {}),
      logger,
    });
    this.uploader = new IngressUploader({
      backend: this.backend,
      ingressUrl,
      ...(opts.proxyUrl ? { proxyUrl: opts.proxyUrl } : {}),
      tls: ca ? { ca } : {},
      ...(opts.timeouts ? { timeouts: opts.timeouts } : {}),
      ...(opts.retry ? { retry: opts.retry } : {}),
      logger,
    });
  }

  /**
   * From METRICS_UTILITY_SERVICE_ACCOUNT_ID and _SECRET (required), METRICS_UTILITY_CRC_INGRESS_URL, _CRC_SSO_URL,
   * _CRC_VERIFY_CERT_PATH and METRICS_UTILITY_PROXY_URL in `env`, validated.
   */
  static fromEnv(env: Record<string, string | undefined>, extra: Partial<CrcOptions> = {}): CrcStorage {
    return CrcStorage.fromConfig(loadConfig({ env, keys: SETTINGS }), extra);
  }

  /** From `loadConfig()` values (environment and config file, as the CLI reads them). */
  static fromConfig(cfg: Pick<TallyConfig, (typeof SETTINGS)[number]>, extra: Partial<CrcOptions> = {}): CrcStorage {
    const c = requireConfig(cfg, ['serviceAccountId', 'serviceAccountSecret'], 'METRICS_UTILITY_SHIP_TARGET=crc');
    return new CrcStorage({
      clientId: c.serviceAccountId,
      clientSecret: c.serviceAccountSecret,
      ...(cfg.crcIngressUrl ? { ingressUrl: cfg.crcIngressUrl } : {}),
      ...(cfg.crcSsoUrl ? { ssoUrl: cfg.crcSsoUrl } : {}),
      ...(cfg.proxyUrl ? { proxyUrl: cfg.proxyUrl } : {}),
      ...(cfg.crcVerifyCertPath ? { verifyCertPath: cfg.crcVerifyCertPath } : {}),
      ...extra,
    });
  }

  /** Tokens obtained from SSO so far. */
  get tokensIssued(): number {
    return this.tokens.issued;
  }

  protected async send(name: string, payload: PreparedPayload): Promise<void> {
    const token = await this.tokens.token();
    try {
      await this.uploader.upload(name, payload, { authorization: `Bearer ${token}` });
    } catch (err) {
      if (!(err instanceof StorageError) || err.status !== 401) throw err;
      // Revoked or expired early: one fresh token, one more try.
      this.tokens.invalidate(token);
      const fresh = await this.tokens.token();
      try {
        await this.uploader.upload(name, payload, { authorization: `Bearer ${fresh}` });
      } catch (again) {
        if (again instanceof StorageError && again.status === 401) {
          throw new StorageError(
            this.backend,
            `put ${name}: the ingress refused a freshly issued service account token (401) — is the service account ${this.opts.clientId} allowed to upload?`,
            { status: 401, cause: again },
          );
        }
        throw again;
      }
    }
  }

  override async close(): Promise<void> {
    await super.close();
    await this.tokens.close();
  }

  describe(): Record<string, unknown> {
    return {
      backend: this.backend,
      ingressUrl: safeUrl(this.opts.ingressUrl),
      ...(this.opts.issuerUrl ? { issuerUrl: safeUrl(this.opts.issuerUrl) } : { ssoUrl: safeUrl(this.opts.ssoUrl) }),
      clientId: this.opts.clientId,
      ...(this.opts.proxyUrl ? { proxyUrl: safeUrl(this.opts.proxyUrl) } : {}),
      ...(this.caPath ? { verifyCertPath: this.caPath } : {}),
    };
  }
}
