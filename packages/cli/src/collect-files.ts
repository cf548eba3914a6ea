import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError, errorMessage, registerSecret } from '@tally/core';

/** The four files of a collector run, as performanceplatform-collector's -q, -b, -c and -t. */
export interface CollectFiles {
  query: string;
  target: string;
  credentials?: string;
  token?: string;
}

export interface QueryFile {
  /** The file it came from; relative entrypoint paths start in its folder. */
  path: string;
  entrypoint: string;
  query: unknown;
  options: Record<string, unknown>;
  additionalFields: Record<string, unknown>;
  chunkSize: number;
  dataGroup: string;
  dataSet: string;
}

export interface TargetFile {
  url: string;
  verifyCertPath?: string;
  /** false: never gzip request bodies (for receivers that cannot inflate them). */
  gzip?: boolean;
}

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${what} file ${path} cannot be read: ${errorMessage(err)}`, { field: what });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    // The parser's message may quote the text, which can be a secret: say where, not what.
    const at = /position (\d+)/.exec(errorMessage(err))?.[1];
    throw new ConfigError(`${what} file ${path} is not valid JSON${at ? ` (at character ${at})` : ''}`, { field: what });
  }
}

function object(raw: unknown, path: string, what: string): Record<string, unknown> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${what} file ${path}: expected a JSON object`, { field: what });
  return raw as Record<string, unknown>;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/**
 * Read a query file: `{"entrypoint", "query", "options": {"additionalFields", "chunk-size"},
 * "data-set": {"data-group", "data-set"}}`. performanceplatform's `data-type` is accepted
 * for `data-set`, and its `token` key (which names the token file for deploy tools) is ignored.
 */
export function readQueryFile(path: string): QueryFile {
  const q = object(readJson(path, 'query'), path, 'query');
  const fail = (field: string, m: string) => new ConfigError(`query file ${path}: ${field} ${m}`, { field });
  const known = ['entrypoint', 'query', 'options', 'data-set', 'token'];
  for (const k of Object.keys(q)) if (!known.includes(k)) throw fail(k, `is not a query file key (known: ${known.join(', ')})`);
  if (typeof q.entrypoint !== 'string' || q.entrypoint.trim() === '') throw fail('entrypoint', 'is required: tally:sql, tally:prometheus, a module path or a package name');
  const options = q.options ?? {};
  if (!isPlainObject(options)) throw fail('options', 'must be an object');
  const additional = options.additionalFields ?? {};
  if (!isPlainObject(additional)) throw fail('options.additionalFields', 'must be an object of fields added to every record');
  const chunk = options['chunk-size'] ?? options.chunkSize ?? 100;
  if (!Number.isInteger(chunk) || (chunk as number) < 1) throw fail('options.chunk-size', `must be a whole number ≥ 1 (got ${JSON.stringify(chunk)})`);
  const ds = q['data-set'];
  if (!isPlainObject(ds)) throw fail('data-set', 'is required: {"data-group": "…", "data-set": "…"}');
  const group = ds['data-group'];
  const set = ds['data-set'] ?? ds['data-type'];
  if (typeof group !== 'string' || group === '') throw fail('data-set.data-group', 'is required');
  if (typeof set !== 'string' || set === '') throw fail('data-set.data-set', 'is required');
  return {
    path,
    entrypoint: q.entrypoint.trim(),
    query: q.query,
    options,
    additionalFields: additional,
    chunkSize: chunk as number,
    dataGroup: group,
    dataSet: set,
  };
}

/** The target file: `{"url": "https://…/data"}` (performanceplatform's `backdrop_url` is accepted too). */
export function readTargetFile(path: string): TargetFile {
  const t = object(readJson(path, 'target'), path, 'target');
  const url = t.url ?? t.backdrop_url;
  if (typeof url !== 'string' || url === '') throw new ConfigError(`target file ${path}: url is required: the data set write API base`, { field: 'url' });
  if (t.verifyCertPath !== undefined && typeof t.verifyCertPath !== 'string') throw new ConfigError(`target file ${path}: verifyCertPath must be a file path`, { field: 'verifyCertPath' });
  if (t.gzip !== undefined && typeof t.gzip !== 'boolean') throw new ConfigError(`target file ${path}: gzip must be true or false`, { field: 'gzip' });
  return {
    url,
    ...(t.verifyCertPath ? { verifyCertPath: resolve(dirname(path), t.verifyCertPath as string) } : {}),
    ...(t.gzip === false ? { gzip: false } : {}),
  };
}

/** The token file: `{"token": "…"}`. The token is registered as a secret at once, so no log line can show it. */
export function readTokenFile(path: string): string {
  const t = object(readJson(path, 'token'), path, 'token');
  if (typeof t.token !== 'string' || t.token === '') throw new ConfigError(`token file ${path}: token is required: a non-empty string`, { field: 'token' });
  registerSecret(t.token);
  if (/[\s\u0000-\u001f]/.test(t.token)) throw new ConfigError(`token file ${path}: token must not contain spaces, newlines or control characters`, { field: 'token' });
  return t.token;
}

/** The credentials file: a JSON object whose shape the entrypoint checks. Its string values are registered as secrets. */
export function readCredentialsFile(path: string): Record<string, unknown> {
  const c = object(readJson(path, 'credentials'), path, 'credentials');
  const mark = (v: unknown): void => {
    if (typeof v === 'string') registerSecret(v.length >= 8 ? v : undefined);
    else if (v && typeof v === 'object') for (const x of Object.values(v)) mark(x);
  };
  for (const [k, v] of Object.entries(c)) if (/(secret|password|token|key|credential)/i.test(k)) mark(v);
  return c;
}
