import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ConfigError, type ConfigKey, type Logger, loadConfig, type RetryPolicy, requireConfig, StorageError, type TallyConfig, errorMessage, registerSecret, silentLogger } from '@tally/core';
import { type PutSource, type Sink, checkName } from '@tally/storage';
import { loadCaBundle, loadClientIdentity } from './tls.js';
import { TokenSource } from './token.js';
import { IngressUploader, PAYLOAD_CONTENT_TYPE, type Timeouts, checkUrl, preparePayload, safeUrl } from './upload.js';

/** How the ingress knows who uploads. */
export type IngressAuth =
  | { type: 'none' }
  | { type: 'basic'; username: string; password: string }
  | { type: 'bearer'; token: string }
  | { type: 'oauth2'; tokenUrl: string; clientId: string; clientSecret: string; scope?: string }
  | { type: 'mtls'; certPath: string; keyPath?: string };

/** A generic ingress target (insights-analytics-collector's upload, any endpoint). */
export interface IngressSettings {
  /** Where the multipart POST goes. https; plain http only to a loopback address. */
  url: string;
  /** The payload part's content type, which the ingress routes on (default the AAP billing payload). */
  contentType?: string;
  auth: IngressAuth;
  /** Extra request headers, e.g. `x-rh-identity`; not `authorization` (use `auth`) nor `content-type`. */
  headers?: Record<string, string>;
  /** CA bundle that verifies the ingress and token servers (default: the system store). */
  verifyCertPath?: string;
  proxyUrl?: string;
  timeouts?: Timeouts;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const RESERVED = new Set(['authorization', 'content-type', 'content-length', 'host', 'transfer-encoding', 'connection']);
const MIME = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*(\s*;.*)?$/i;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const KEYS: Record<IngressAuth['type'], string[]> = {
  none: [],
  basic: ['username', 'password'],
  bearer: ['token'],
  oauth2: ['tokenUrl', 'clientId', 'clientSecret', 'scope'],
  mtls: ['certPath', 'keyPath'],
};
const OPTIONAL = new Set(['scope', 'keyPath']);

function fail(source: string, field: string, message: string): ConfigError {
  return new ConfigError(`${source}: ${field} ${message}`, { field });
}

function isLoopbackHttp(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' && LOOPBACK.has(u.hostname);
  } catch {
    return false;
  }
}

function parseAuth(raw: unknown, source: string): IngressAuth {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw fail(source, 'auth', 'must be an object such as {"type": "basic", "username": "…", "password": "…"}');
  const a = raw as Record<string, unknown>;
  const type = a.type as IngressAuth['type'];
  if (!(type in KEYS)) throw fail(source, 'auth.type', `must be one of ${Object.keys(KEYS).join(', ')} (got ${JSON.stringify(a.type)})`);
  for (const k of Object.keys(a)) if (k !== 'type' && !KEYS[type].includes(k)) throw fail(source, `auth.${k}`, `is not a setting of auth type ${type} (known: ${KEYS[type].join(', ') || 'none'})`);
  for (const k of KEYS[type]) {
    if (a[k] === undefined && OPTIONAL.has(k)) continue;
    if (typeof a[k] !== 'string' || a[k] === '') throw fail(source, `auth.${k}`, 'is required: a non-empty string');
  }
  if (type === 'basic' && (a.username as string).includes(':')) throw fail(source, 'auth.username', 'must not contain ":"');
  if (type === 'bearer' && /[\s\u0000-\u001f]/.test(a.token as string)) throw fail(source, 'auth.token', 'must not contain spaces or control characters');
  return a as unknown as IngressAuth;
}

/**
 * Check ingress settings (from a JSON file or code); every problem names `source`
 * and the field, and secrets never appear in a message.
 */
export function parseIngressSettings(raw: unknown, source = 'ingress settings'): IngressSettings {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${source}: expected a JSON object with url and auth`, { field: 'ingress' });
  const s = raw as Record<string, unknown>;
  const known = ['url', 'contentType', 'auth', 'headers', 'verifyCertPath', 'proxyUrl'];
  for (const k of Object.keys(s)) if (!known.includes(k)) throw fail(source, k, `is not an ingress setting (known: ${known.join(', ')})`);
  if (typeof s.url !== 'string') throw fail(source, 'url', 'is required: the ingress upload URL');
  checkUrl(s.url, 'url', `${source}: url`, isLoopbackHttp(s.url));
  if (s.contentType !== undefined && (typeof s.contentType !== 'string' || !MIME.test(s.contentType))) {
    throw fail(source, 'contentType', `must be a MIME type such as application/vnd.redhat.<service>.<name>+tgz (got ${JSON.stringify(s.contentType)})`);
  }
  const auth = parseAuth(s.auth, source);
  if (auth.type === 'oauth2') checkUrl(auth.tokenUrl, 'auth.tokenUrl', `${source}: auth.tokenUrl`, isLoopbackHttp(auth.tokenUrl));
  const headers: Record<string, string> = {};
  if (s.headers !== undefined) {
    if (!s.headers || typeof s.headers !== 'object' || Array.isArray(s.headers)) throw fail(source, 'headers', 'must be an object of header names to string values');
    for (const [name, value] of Object.entries(s.headers as Record<string, unknown>)) {
      if (!TOKEN.test(name)) throw fail(source, `headers.${name}`, 'is not a valid header name');
      if (RESERVED.has(name.toLowerCase())) throw fail(source, `headers.${name}`, 'is set by Tally itself (use auth for credentials)');
      if (typeof value !== 'string' || /[\r\n\u0000]/.test(value)) throw fail(source, `headers.${name}`, 'must be a string on one line');
      headers[name.toLowerCase()] = value;
    }
  }
  for (const k of ['verifyCertPath', 'proxyUrl'] as const) if (s[k] !== undefined && typeof s[k] !== 'string') throw fail(source, k, 'must be a string');
  if (typeof s.proxyUrl === 'string') checkUrl(s.proxyUrl, 'proxyUrl', `${source}: proxyUrl`, true);
  return {
    url: s.url,
    ...(s.contentType ? { contentType: s.contentType as string } : {}),
    auth,
    ...(Object.keys(headers).length ? { headers } : {}),
    ...(s.verifyCertPath ? { verifyCertPath: s.verifyCertPath as string } : {}),
    ...(s.proxyUrl ? { proxyUrl: s.proxyUrl as string } : {}),
  };
}

/** Read and check a JSON file of ingress settings; errors name the file and the field, never a secret. */
export function readIngressSettings(path: string): IngressSettings {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const why = err instanceof SyntaxError ? 'is not valid JSON' : `cannot be read: ${errorMessage(err)}`;
    throw new ConfigError(`ingress settings ${path} ${why} (TALLY_INGRESS_SETTINGS)`, { field: 'TALLY_INGRESS_SETTINGS' });
  }
  return parseIngressSettings(raw, `ingress settings ${path}`);
}

/** The development identity header insights-analytics-collector sends in its `x-rh-identity` mode. */
export function xRhIdentity(identity: { org_id: string; account_number?: string }): string {
  const doc = {
    identity: {
      type: 'User',
      ...(identity.account_number ? { account_number: identity.account_number } : {}),
      org_id: identity.org_id,
      internal: { org_id: identity.org_id },
      user: { is_org_admin: true },
    },
  };
  return Buffer.from(JSON.stringify(doc)).toString('base64');
}

/**
 * Any ingress endpoint, put-only (a Sink): each `put` POSTs the payload as the
 * multipart field `file` with the configured content type, authentication and
 * headers, retrying 5xx/429 and dropped connections. An OAuth2 token the ingress
 * refuses (401) is renewed once.
 */
/** The setting the generic ingress reads: TALLY_INGRESS_SETTINGS, the path of its JSON settings file. */
const SETTINGS = ['ingressSettings'] as const satisfies readonly ConfigKey[];

export class IngressSink implements Sink {
  readonly backend = 'ingress';
  private readonly settings: IngressSettings;
  private readonly uploader: IngressUploader;
  private readonly tokens: TokenSource | undefined;
  private readonly staticHeaders: Record<string, string>;
  private readonly caPath: string | undefined;

  /** From the settings file named by TALLY_INGRESS_SETTINGS in `env` (checked whole; see `readIngressSettings`). */
  static fromEnv(env: Record<string, string | undefined>, extra: Partial<IngressSettings> = {}): IngressSink {
    return IngressSink.fromConfig(loadConfig({ env, keys: SETTINGS }), extra);
  }

  /** From `loadConfig()` values (environment and config file, as the CLI reads them). */
  static fromConfig(cfg: Pick<TallyConfig, (typeof SETTINGS)[number]>, extra: Partial<IngressSettings> = {}): IngressSink {
    const c = requireConfig(cfg, SETTINGS, 'METRICS_UTILITY_SHIP_TARGET=ingress');
    return new IngressSink({ ...readIngressSettings(c.ingressSettings), ...extra });
  }

  constructor(settings: IngressSettings) {
    const { timeouts, retry, logger: given, ...plain } = settings;
    const s: IngressSettings = {
      ...parseIngressSettings(plain, 'storage ingress'),
      ...(timeouts ? { timeouts } : {}),
      ...(retry ? { retry } : {}),
      ...(given ? { logger: given } : {}),
    };
    this.settings = s;
    const { ca, path } = loadCaBundle(s.verifyCertPath);
    this.caPath = path;
    const logger = (s.logger ?? silentLogger).child({ storage: 'ingress' });
    const auth = s.auth;
    let tls: { ca?: string; cert?: string; key?: string } = ca ? { ca } : {};
    this.staticHeaders = { ...s.headers };
    if (auth.type === 'basic') {
      registerSecret(auth.password);
      const encoded = Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
      registerSecret(encoded);
      this.staticHeaders.authorization = `Basic ${encoded}`;
    } else if (auth.type === 'bearer') {
      registerSecret(auth.token);
      this.staticHeaders.authorization = `Bearer ${auth.token}`;
    } else if (auth.type === 'mtls') {
      const id = loadClientIdentity(auth.certPath, auth.keyPath);
      tls = { ...tls, cert: id.cert, key: id.key };
    }
    this.tokens =
      auth.type === 'oauth2'
        ? new TokenSource({
            backend: this.backend,
            clientId: auth.clientId,
            clientSecret: auth.clientSecret,
            tokenUrl: auth.tokenUrl,
            allowInsecureHttp: isLoopbackHttp(auth.tokenUrl),
            ...(ca ? { ca } : {}),
            timeoutSeconds: Math.ceil((s.timeouts?.connectMs ?? 31_000) / 1000),
            ...(auth.scope ? { parameters: { scope: auth.scope } } : {}),
            ...(s.retry ? { retry: s.retry } : {}),
            logger,
          })
        : undefined;
    this.uploader = new IngressUploader({
      backend: this.backend,
      ingressUrl: s.url,
      ...(s.proxyUrl ? { proxyUrl: s.proxyUrl } : {}),
      tls,
      ...(s.timeouts ? { timeouts: s.timeouts } : {}),
      ...(s.retry ? { retry: s.retry } : {}),
      ...(auth.type === 'mtls' ? { networkHint: `the server may have refused the client certificate ${auth.certPath}` } : {}),
      logger,
    });
  }

  async put(name: string, source: PutSource): Promise<void> {
    checkName(this.backend, name);
    const payload = await preparePayload(this.backend, name, source, this.settings.contentType ?? PAYLOAD_CONTENT_TYPE);
    try {
      if (!this.tokens) {
        await this.uploader.upload(basename(name), payload, this.staticHeaders);
        return;
      }
      const token = await this.tokens.token();
      try {
        await this.uploader.upload(basename(name), payload, { ...this.staticHeaders, authorization: `Bearer ${token}` });
      } catch (err) {
        if (!(err instanceof StorageError) || err.status !== 401) throw err;
        this.tokens.invalidate(token);
        await this.uploader.upload(basename(name), payload, { ...this.staticHeaders, authorization: `Bearer ${await this.tokens.token()}` });
      }
    } finally {
      await payload.release();
    }
  }

  describe(): Record<string, unknown> {
    const a = this.settings.auth;
    return {
      backend: this.backend,
      url: safeUrl(this.settings.url),
      contentType: this.settings.contentType ?? PAYLOAD_CONTENT_TYPE,
      auth: a.type === 'basic' ? { type: a.type, username: a.username } : a.type === 'oauth2' ? { type: a.type, tokenUrl: safeUrl(a.tokenUrl), clientId: a.clientId } : a.type === 'mtls' ? { type: a.type, certPath: a.certPath } : { type: a.type },
      headers: Object.keys(this.settings.headers ?? {}),
      ...(this.caPath ? { verifyCertPath: this.caPath } : {}),
    };
  }

  async close(): Promise<void> {
    await this.uploader.close();
    await this.tokens?.close();
  }
}
