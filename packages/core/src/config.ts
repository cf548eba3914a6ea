import { existsSync, readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';
import { registerSecret } from './logger.js';
import { parsePythonFloat } from './py-float.js';
import { parseSize } from './size.js';

/**
 * A setting's parser: its value from the text given, or INVALID. Plain functions, not a schema
 * library: every `tally` command reads its configuration first, and loading zod's ~95 modules
 * cost 40–150 ms of CPU at each start for these few rules.
 */
const INVALID: unique symbol = Symbol('invalid');
type Parse<T> = (raw: string) => T | typeof INVALID;

const listOf =
  (separator: string): Parse<string[]> =>
  (s) =>
    s
      .split(separator)
      .map((x) => x.trim())
      .filter(Boolean);
const list = listOf(',');
/**
 * METRICS_UTILITY_ORGANIZATION_FILTER as metrics-utility reads it (build_report.py's
 * get_organization_filter, then report_ccsp_v2.py's _apply_filter): trailing `;` stripped, then
 * split on `;`, each name kept exact, spaces included (`O1; O2` names `O1` and ` O2`, which
 * matches only an organization named ` O2`). An empty name matches no organization (a missing
 * one is 'No organization name'): `;` alone leaves no organization, as there.
 */
const organizationNames: Parse<string[]> = (s) => s.replace(/;+$/, '').split(';');
/**
 * The reference's bool_from_env is true for `1` and `true` (any case) and false for anything
 * else. Tally takes the same trues, and as false only what the reference also reads as false
 * and means it (`false`, `0`, `no`); any other value (`yes`, ` true`, `on`) is refused, never
 * read differently from the reference.
 */
const BOOLS = new Map([...['true', '1'].map((t) => [t, true] as const), ...['false', '0', 'no', ''].map((f) => [f, false] as const)]);
const bool: Parse<boolean> = (s) => BOOLS.get(s.toLowerCase()) ?? INVALID;
const BOOL_ACCEPTS = 'true or 1, or false, 0 or no (metrics-utility reads any value but true and 1 as false)';
const positiveInt: Parse<number> = (s) => {
  const t = s.trim();
  return /^\d+$/.test(t) && Number.isSafeInteger(Number(t)) && Number(t) > 0 ? Number(t) : INVALID;
};
/** The reference's validation: a whole number of days from 0 (gather nothing older than until) to 3650. */
const gatherDays: Parse<number> = (s) => {
  const t = s.trim();
  return /^\d+$/.test(t) && Number(t) <= 3650 ? Number(t) : INVALID;
};
/** A byte size parseSize reads (`200M`, `1G`, bytes), kept as text; refused here so the error names the variable. */
const size: Parse<string> = (s) => {
  try {
    parseSize(s);
    return s.trim();
  } catch {
    return INVALID;
  }
};
/** Any text the WHATWG URL parser accepts (trimmed; tabs and newlines removed, as the parser ignores them). */
const url: Parse<string> = (s) => {
  const t = s.trim();
  return URL.canParse(t) ? t.replace(/[\t\n\r]/g, '') : INVALID;
};
const text: Parse<string> = (s) => s;
/**
 * A price as the reference reads it, Python's `float(text)` (`1e1`, ` 11.5 `, `1_000`); what float()
 * refuses is refused. Stricter than the reference where its bill would be meaningless: NaN and
 * infinities (openpyxl writes them as an empty cell, so the bill comes out blank) and negative prices
 * (a credit per node is a misconfiguration, never a bill).
 */
const price: Parse<number> = (s) => {
  const n = parsePythonFloat(s);
  return n !== undefined && Number.isFinite(n) && n >= 0 ? n : INVALID;
};
const oneOf =
  <const T extends string>(values: readonly T[]): Parse<T> =>
  (s) =>
    (values as readonly string[]).includes(s) ? (s as T) : INVALID;
const matching =
  (pattern: RegExp): Parse<string> =>
  (s) => {
    const t = s.trim();
    return pattern.test(t) ? t : INVALID;
  };

/**
 * One setting: `env` is metrics-utility's name; `alias` an older name Tally also reads (`env` wins
 * when both are set); `keepEmpty` keeps a variable set to "" as "" instead of treating it as unset.
 */
interface EnvSpec {
  env: string;
  alias?: string;
  schema: Parse<unknown>;
  secret?: boolean;
  accepts?: string;
  keepEmpty?: boolean;
  /** What joins a list given in the config file (`,` unless said). */
  separator?: string;
}

/**
 * Every variable Tally reads, with the metrics-utility name, its parser and
 * whether it is a secret (never printed, logged or written into artifacts).
 */
export const ENV = {
  shipTarget: { env: 'METRICS_UTILITY_SHIP_TARGET', schema: oneOf(['directory', 's3', 'crc', 'crc-mutual', 'segment', 'postgres', 'ingress', 'controller_db']), accepts: 'directory, s3, crc, crc-mutual, postgres, ingress (gather) or directory, s3, controller_db (report)' },
  shipPath: { env: 'METRICS_UTILITY_SHIP_PATH', schema: text },
  databaseUrl: { env: 'DATABASE_URL', schema: text, secret: true },
  bucketName: { env: 'METRICS_UTILITY_BUCKET_NAME', schema: text },
  bucketEndpoint: { env: 'METRICS_UTILITY_BUCKET_ENDPOINT', schema: url, accepts: 'a URL such as https://s3.example.com' },
  bucketRegion: { env: 'METRICS_UTILITY_BUCKET_REGION', schema: text },
  bucketAccessKey: { env: 'METRICS_UTILITY_BUCKET_ACCESS_KEY', schema: text, secret: true },
  bucketSecretKey: { env: 'METRICS_UTILITY_BUCKET_SECRET_KEY', schema: text, secret: true },
  crcIngressUrl: { env: 'METRICS_UTILITY_CRC_INGRESS_URL', schema: url, accepts: 'a URL' },
  crcSsoUrl: { env: 'METRICS_UTILITY_CRC_SSO_URL', schema: url, accepts: 'a URL' },
  proxyUrl: { env: 'METRICS_UTILITY_PROXY_URL', schema: url, accepts: 'a URL such as http://proxy:3128' },
  serviceAccountId: { env: 'METRICS_UTILITY_SERVICE_ACCOUNT_ID', schema: text },
  serviceAccountSecret: { env: 'METRICS_UTILITY_SERVICE_ACCOUNT_SECRET', schema: text, secret: true },
  crcCertPath: { env: 'METRICS_UTILITY_CRC_CERT_PATH', schema: text },
  crcKeyPath: { env: 'METRICS_UTILITY_CRC_KEY_PATH', schema: text },
  crcVerifyCertPath: { env: 'METRICS_UTILITY_CRC_VERIFY_CERT_PATH', schema: text },
  billingProvider: { env: 'METRICS_UTILITY_BILLING_PROVIDER', schema: oneOf(['aws']), accepts: 'aws' },
  billingAccountId: { env: 'METRICS_UTILITY_BILLING_ACCOUNT_ID', schema: text },
  redHatOrgId: { env: 'METRICS_UTILITY_RED_HAT_ORG_ID', schema: text },
  segmentWriteKey: { env: 'METRICS_UTILITY_SEGMENT_WRITE_KEY', schema: text, secret: true },
  segmentHost: { env: 'METRICS_UTILITY_SEGMENT_HOST', schema: url, accepts: 'a URL' },
  // `send-to-segment`'s key, under the name the reference's send_to_segment command reads.
  segmentUploadWriteKey: { env: 'SEGMENT_WRITE_KEY', schema: text, secret: true },
  storageTable: { env: 'METRICS_UTILITY_STORAGE_TABLE', schema: text },
  /** A JSON file of generic ingress settings (url, contentType, auth, headers) for ship target `ingress`. */
  ingressSettings: { env: 'TALLY_INGRESS_SETTINGS', schema: text },
  maxGatherPeriodDays: { env: 'METRICS_UTILITY_MAX_GATHER_PERIOD_DAYS', schema: gatherDays, accepts: 'a whole number of days from 0 to 3650, e.g. 28' },
  // Set but empty means none (the reference filters empty items out), not the default.
  optionalCollectors: { env: 'METRICS_UTILITY_OPTIONAL_COLLECTORS', schema: list, keepEmpty: true },
  disableJobHostSummary: { env: 'METRICS_UTILITY_DISABLE_JOB_HOST_SUMMARY_COLLECTOR', schema: bool, accepts: BOOL_ACCEPTS },
  // A backfill ships but leaves every watermark where the scheduled runs put it.
  disableSaveLastGatheredEntries: { env: 'METRICS_UTILITY_DISABLE_SAVE_LAST_GATHERED_ENTRIES', schema: bool, accepts: BOOL_ACCEPTS },
  collectorLockSuffix: { env: 'METRICS_UTILITY_COLLECTOR_LOCK_SUFFIX', schema: text },
  clusterName: { env: 'METRICS_UTILITY_CLUSTER_NAME', schema: text },
  usageBasedMeteringEnabled: { env: 'METRICS_UTILITY_USAGE_BASED_METERING_ENABLED', schema: bool, accepts: BOOL_ACCEPTS },
  prometheusUrl: { env: 'METRICS_UTILITY_PROMETHEUS_URL', schema: url, accepts: 'a URL' },
  // Tally's: the reference reads the pod's service-account token and service-ca.crt files instead.
  prometheusToken: { env: 'METRICS_UTILITY_PROMETHEUS_TOKEN', schema: text, secret: true },
  // Set but empty is kept: metrics-utility documents it as "skip TLS verification"; total_workers_vcpu
  // keeps verification on and warns. `…_CA_PATH` is the name Tally shipped first.
  prometheusCaPath: { env: 'METRICS_UTILITY_PROMETHEUS_CA_CERT_PATH', alias: 'METRICS_UTILITY_PROMETHEUS_CA_PATH', schema: text, keepEmpty: true },
  // Tally's: the reference's MAX_DATA_SIZE is a constant (200 MiB).
  maxDataSize: { env: 'METRICS_UTILITY_MAX_DATA_SIZE', schema: size, accepts: 'a size such as 100M, 1G or a number of bytes' },
  reportType: { env: 'METRICS_UTILITY_REPORT_TYPE', schema: oneOf(['CCSP', 'CCSPv2', 'RENEWAL_GUIDANCE']), accepts: 'CCSP, CCSPv2 or RENEWAL_GUIDANCE' },
  pricePerNode: { env: 'METRICS_UTILITY_PRICE_PER_NODE', schema: price, accepts: 'a finite number of 0 or more such as 12.5' },
  reportSku: { env: 'METRICS_UTILITY_REPORT_SKU', schema: text },
  reportSkuDescription: { env: 'METRICS_UTILITY_REPORT_SKU_DESCRIPTION', schema: text },
  reportH1Heading: { env: 'METRICS_UTILITY_REPORT_H1_HEADING', schema: text },
  reportCompanyName: { env: 'METRICS_UTILITY_REPORT_COMPANY_NAME', schema: text },
  reportEmail: { env: 'METRICS_UTILITY_REPORT_EMAIL', schema: text },
  reportRhnLogin: { env: 'METRICS_UTILITY_REPORT_RHN_LOGIN', schema: text },
  reportPoNumber: { env: 'METRICS_UTILITY_REPORT_PO_NUMBER', schema: text },
  reportCompanyBusinessLeader: { env: 'METRICS_UTILITY_REPORT_COMPANY_BUSINESS_LEADER', schema: text },
  reportCompanyProcurementLeader: { env: 'METRICS_UTILITY_REPORT_COMPANY_PROCUREMENT_LEADER', schema: text },
  reportEndUserCompanyName: { env: 'METRICS_UTILITY_REPORT_END_USER_COMPANY_NAME', schema: text },
  reportEndUserCity: { env: 'METRICS_UTILITY_REPORT_END_USER_CITY', schema: text },
  reportEndUserState: { env: 'METRICS_UTILITY_REPORT_END_USER_STATE', schema: text },
  reportEndUserCountry: { env: 'METRICS_UTILITY_REPORT_END_USER_COUNTRY', schema: text },
  renewalDedupIterations: { env: 'REPORT_RENEWAL_GUIDANCE_DEDUP_ITERATIONS', schema: positiveInt, accepts: 'a whole number, e.g. 3' },
  // `;`-separated, as in the reference: organization names may contain commas.
  organizationFilter: { env: 'METRICS_UTILITY_ORGANIZATION_FILTER', schema: organizationNames, separator: ';' },
  // Set but empty selects no sheet (the reference reads it as [''], which its validation refuses).
  optionalCcspReportSheets: { env: 'METRICS_UTILITY_OPTIONAL_CCSP_REPORT_SHEETS', schema: list, keepEmpty: true },
  deduplicator: { env: 'METRICS_UTILITY_DEDUPLICATOR', schema: text },
  // One counting rule for rollups and every report (never mixed): see conventions.md.
  countUnreachableHosts: { env: 'TALLY_COUNT_UNREACHABLE_HOSTS', schema: bool, accepts: BOOL_ACCEPTS },
  // DuckDB of rollups and reports; unset, each keeps its measured default (see @tally/dataframes).
  duckdbMemoryLimit: { env: 'TALLY_DUCKDB_MEMORY_LIMIT', schema: matching(/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i), accepts: 'a size such as 768MB or 2GiB' },
  duckdbThreads: { env: 'TALLY_DUCKDB_THREADS', schema: positiveInt, accepts: 'a whole number of threads, e.g. 2' },
} as const satisfies Record<string, EnvSpec>;

type Env = typeof ENV;
export type TallyConfig = { -readonly [K in keyof Env]?: Exclude<ReturnType<Env[K]['schema']>, typeof INVALID> };
export type ConfigKey = keyof Env;

export const SECRET_KEYS: ReadonlySet<ConfigKey> = new Set(
  (Object.keys(ENV) as ConfigKey[]).filter((k) => (ENV[k] as { secret?: boolean }).secret),
);

export interface LoadConfigOptions {
  /** The environment to read (the CLI passes `process.env`; library code never reads it itself). */
  env: Record<string, string | undefined>;
  /** Read only these settings (a backend's own), each validated as everywhere else. */
  keys?: readonly ConfigKey[];
  /** A JSON file whose keys are either the config keys (`shipPath`) or the variable names; the environment wins. */
  file?: string;
}

/**
 * Read configuration from the environment (and an optional JSON file). Every
 * invalid value is reported in one error, one line per variable, naming what is accepted.
 */
export function loadConfig(opts: LoadConfigOptions): TallyConfig {
  const env = opts.env;
  const wanted = opts.keys ? new Set<ConfigKey>(opts.keys) : undefined;
  const fromFile: Record<string, unknown> = {};
  if (opts.file) {
    if (!existsSync(opts.file)) throw new ConfigError(`config file ${opts.file} does not exist`, { field: 'config' });
    try {
      Object.assign(fromFile, JSON.parse(readFileSync(opts.file, 'utf8')));
    } catch (err) {
      throw new ConfigError(`config file ${opts.file} is not valid JSON: ${(err as Error).message}`, { field: 'config' });
    }
  }
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, spec] of Object.entries(ENV) as [ConfigKey, (typeof ENV)[ConfigKey]][]) {
    if (wanted && !wanted.has(key)) continue;
    const given = fromEnv(env, spec);
    let raw: unknown = given?.raw;
    let source: string = given?.source ?? spec.env;
    if (!given) {
      const alias: string | undefined = (spec as EnvSpec).alias;
      raw = fromFile[key] ?? fromFile[spec.env] ?? (alias ? fromFile[alias] : undefined);
      source = `${opts.file}: ${key}`;
      if (typeof raw === 'number' || typeof raw === 'boolean') raw = String(raw);
      // A list in the file is joined with its variable's separator (`,` unless it names another).
      if (Array.isArray(raw)) raw = raw.join((spec as { separator?: string }).separator ?? ',');
    }
    // Mostly an empty value reads as unset; for a keepEmpty setting it is kept (a list of nothing, say).
    if (raw === undefined || (raw === '' && !given && !(spec as EnvSpec).keepEmpty)) continue;
    const parsed = typeof raw === 'string' ? (spec.schema as Parse<unknown>)(raw) : INVALID;
    if (parsed !== INVALID) {
      out[key] = parsed;
      if ((spec as { secret?: boolean }).secret && typeof raw === 'string') registerSecret(raw);
    } else {
      const shown = (spec as { secret?: boolean }).secret ? '(secret value)' : JSON.stringify(raw);
      const accepts = (spec as { accepts?: string }).accepts ?? 'a text';
      problems.push(`${source}=${shown} is invalid; expected ${accepts}`);
    }
  }
  if (problems.length) throw new ConfigError(problems.join('\n'), { field: problems.length === 1 ? problems[0]!.split('=')[0] : undefined });
  return out as TallyConfig;
}

/** The variable that sets a spec, its name first, then its alias; "" counts only with keepEmpty. */
function fromEnv(env: Record<string, string | undefined>, spec: EnvSpec): { raw: string; source: string } | undefined {
  for (const name of spec.alias ? [spec.env, spec.alias] : [spec.env]) {
    const raw = env[name];
    if (raw !== undefined && (raw !== '' || spec.keepEmpty)) return { raw, source: name };
  }
  return undefined;
}

/** The config with secret values replaced, safe to print or persist. */
export function describeConfig(cfg: TallyConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cfg)) out[k] = SECRET_KEYS.has(k as ConfigKey) ? '[redacted]' : v;
  return out;
}

/** Throw a ConfigError naming the variables that are required here and missing. */
export function requireConfig<K extends ConfigKey>(cfg: TallyConfig, keys: readonly K[], what: string): Required<Pick<TallyConfig, K>> {
  const missing = keys.filter((k) => cfg[k] === undefined || cfg[k] === '');
  if (missing.length) {
    throw new ConfigError(`${what} needs ${missing.map((k) => ENV[k].env).join(', ')}`, { field: ENV[missing[0]!].env });
  }
  return cfg as Required<Pick<TallyConfig, K>>;
}
