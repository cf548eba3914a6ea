export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const SECRET_KEY = /(secret|password|passwd|token|access_key|accesskey|private|authorization|credential|api_key|apikey|write_key|writekey)/i;

/** Replace values of secret-looking keys, and any registered secret value, with `[redacted]`. */
export function redact(value: unknown, secrets: ReadonlySet<string> = new Set(), depth = 0): unknown {
  if (depth > 6) return '[…]';
  if (typeof value === 'string') {
    let s = value;
    for (const secret of secrets) if (secret.length >= 4) s = s.split(secret).join('[redacted]');
    return s;
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (value instanceof Error) return redact(value.message, secrets, depth + 1);
  if (Array.isArray(value)) return value.map((v) => redact(v, secrets, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null && v !== '' ? '[redacted]' : redact(v, secrets, depth + 1);
    }
    return out;
  }
  return value;
}

const knownSecrets = new Set<string>();
/** Register a secret value so that it is masked wherever it appears in a log line. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) knownSecrets.add(value);
}

export interface LoggerOptions {
  /** Lowest level written (default `info`; the CLI maps TALLY_LOG_LEVEL onto it). */
  level?: Level;
  /** `pretty` on a TTY, `json` otherwise (default: decided by `stream.isTTY`). */
  format?: 'pretty' | 'json';
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  fields?: Record<string, unknown>;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const stream = opts.stream ?? process.stderr;
  const format = opts.format ?? ((stream as { isTTY?: boolean }).isTTY ? 'pretty' : 'json');
  const min = ORDER[opts.level ?? 'info'] ?? ORDER.info;
  const base = opts.fields ?? {};
  const write = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    const all = redact({ ...base, ...fields }, knownSecrets) as Record<string, unknown>;
    const text = redact(msg, knownSecrets) as string;
    if (format === 'json') {
      stream.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg: text, ...all })}\n`);
    } else {
      const extra = Object.entries(all)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      const tag = level === 'info' ? '' : `${level.toUpperCase()} `;
      stream.write(`${tag}${text}${extra ? ` ${extra}` : ''}\n`);
    }
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger({ ...opts, format, stream, fields: { ...base, ...fields } }),
  };
}

/** A logger that drops everything; the default for library calls. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
