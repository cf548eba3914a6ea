import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CollectorError, ConfigError, errorMessage, parseCsvRows, silentLogger, tempdir } from '@tally/core';
import type { Collector } from '../collector.js';
import { prometheusMain } from './prometheus-range.js';
import { sqlMain } from './sql.js';
import type { DataRecord, EntrypointArgs, EntrypointMain } from './types.js';

/** Entrypoints that ship with Tally, by the name a query file gives them. */
export const BUILTIN_ENTRYPOINTS: Readonly<Record<string, EntrypointMain>> = Object.freeze({
  'tally:sql': sqlMain,
  'tally:prometheus': prometheusMain,
});

/** A loaded entrypoint: `run` yields the records, each checked to be a JSON object. */
export interface Entrypoint {
  /** As written in the query file. */
  readonly name: string;
  /** `main` or `collector` (a `defineCollector` collector). */
  readonly kind: 'builtin' | 'main' | 'collector';
  run(args: EntrypointArgs): AsyncIterable<DataRecord>;
}

const PACKAGE_NAME = /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*(\/[A-Za-z0-9._~/-]+)?$/;

function isPath(spec: string): boolean {
  return spec.startsWith('.') || isAbsolute(spec) || /\.(mjs|js|cjs)$/.test(spec);
}

/** Node's `exports` resolution for the conditions an ESM import uses (import, node, default). */
function fromExports(exp: unknown, subpath: string): string | undefined {
  if (typeof exp === 'string') return subpath === '.' ? exp : undefined;
  if (Array.isArray(exp)) {
    for (const e of exp) {
      const r = fromExports(e, subpath);
      if (r) return r;
    }
    return undefined;
  }
  if (!exp || typeof exp !== 'object') return undefined;
  const o = exp as Record<string, unknown>;
  if (Object.keys(o).some((k) => k.startsWith('.'))) return subpath in o ? fromExports(o[subpath], '.') : undefined;
  for (const cond of ['import', 'node', 'default']) {
    if (cond in o) {
      const r = fromExports(o[cond], '.');
      if (r) return r;
    }
  }
  return undefined;
}

/** The file a package name (optionally with a subpath) resolves to from `baseDir`, walking up node_modules folders. */
export function resolvePackage(spec: string, baseDir: string): string {
  if (!PACKAGE_NAME.test(spec)) throw new ConfigError(`entrypoint "${spec}" is neither a path (./x.mjs, /abs/x.mjs) nor a package name`, { field: 'entrypoint' });
  const parts = spec.split('/');
  const nameLen = spec.startsWith('@') ? 2 : 1;
  const name = parts.slice(0, nameLen).join('/');
  const subpath = parts.length > nameLen ? `./${parts.slice(nameLen).join('/')}` : '.';
  for (let dir = resolve(baseDir); ; dir = dirname(dir)) {
    const pkgDir = join(dir, 'node_modules', name);
    const manifest = join(pkgDir, 'package.json');
    if (existsSync(manifest)) {
      let pkg: { exports?: unknown; module?: string; main?: string };
      try {
        pkg = JSON.parse(readFileSync(manifest, 'utf8'));
      } catch (err) {
        throw new ConfigError(`entrypoint "${spec}": ${manifest}: ${errorMessage(err)}`, { field: 'entrypoint' });
      }
      const target = pkg.exports !== undefined ? fromExports(pkg.exports, subpath) : subpath === '.' ? (pkg.module ?? pkg.main ?? 'index.js') : subpath;
      if (!target) throw new ConfigError(`entrypoint "${spec}": package ${name} (${pkgDir}) exports no "${subpath}" for import`, { field: 'entrypoint' });
      const file = resolve(pkgDir, target);
      if (!file.startsWith(pkgDir)) throw new ConfigError(`entrypoint "${spec}": ${target} points outside the package`, { field: 'entrypoint' });
      return file;
    }
    if (dirname(dir) === dir) break;
  }
  throw new ConfigError(`entrypoint "${spec}": package ${name} is not installed in a node_modules folder at or above ${baseDir}`, { field: 'entrypoint' });
}

function isCollector(v: unknown): v is Collector {
  return typeof v === 'function' && typeof (v as { meta?: { key?: unknown } }).meta?.key === 'string';
}

/** Check each record is a JSON object, naming the entrypoint and the record number otherwise. */
async function* checked(name: string, output: unknown): AsyncGenerator<DataRecord> {
  const source = await output;
  if (source === undefined || source === null) return;
  if (typeof (source as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function' && typeof (source as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw new CollectorError(name, `main() must return or yield records (an array, iterable or async iterable of objects), got ${typeof source}`);
  }
  let n = 0;
  for await (const r of source as AsyncIterable<unknown>) {
    n++;
    if (!r || typeof r !== 'object' || Array.isArray(r)) {
      throw new CollectorError(name, `record ${n} is not a JSON object (got ${Array.isArray(r) ? 'an array' : r === null ? 'null' : typeof r})`);
    }
    yield r as DataRecord;
  }
}

/** Run a `defineCollector` collector: JSON data becomes records (an array: one each), CSV rows become records. */
async function* collectorRecords(name: string, collector: Collector, args: EntrypointArgs): AsyncGenerator<DataRecord> {
  const dir = await tempdir('tally-collect');
  try {
    const instance = collector({
      ...(args.since ? { since: args.since } : {}),
      ...(args.until ? { until: args.until } : {}),
      outputDir: dir.path,
      maxFileSize: 16 * 1024 * 1024,
      logger: args.logger ?? silentLogger,
      credentials: args.credentials,
      query: args.query,
      options: args.options,
      dataSet: args.dataSet,
      store: args.store,
    });
    const result = await instance.gather();
    if (result.format === 'json') {
      const data = result.data as unknown;
      yield* checked(name, data === null ? [] : Array.isArray(data) ? data : [data]);
      return;
    }
    if (result.skipped) throw new CollectorError(name, `skipped: ${result.skipped}`);
    for (const file of result.files) {
      // Parts are bounded by maxFileSize, so one part at a time stays small.
      yield* parseCsvRows(await readFile(file, 'utf8'));
    }
  } finally {
    await dir.remove();
  }
}

/**
 * Load an entrypoint: `tally:sql`, `tally:prometheus`, a path to an ESM module
 * (relative to `baseDir`, the query file's folder) or a package name installed in
 * a node_modules folder at or above `baseDir`. The module exports `main(args)`
 * returning or yielding records, or a `defineCollector` collector (as `default`,
 * `collector`, or its only collector export).
 */
export async function loadEntrypoint(spec: string, baseDir: string): Promise<Entrypoint> {
  const builtin = BUILTIN_ENTRYPOINTS[spec];
  if (builtin) return { name: spec, kind: 'builtin', run: (args) => checked(spec, builtin(args)) };
  const file = isPath(spec) ? resolve(baseDir, spec) : resolvePackage(spec, baseDir);
  if (!existsSync(file) || !statSync(file).isFile()) throw new ConfigError(`entrypoint "${spec}": ${file} does not exist`, { field: 'entrypoint' });
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`entrypoint "${spec}": loading ${file} failed: ${errorMessage(err)}`, { field: 'entrypoint', cause: err });
  }
  if (typeof mod.main === 'function') {
    const main = mod.main as EntrypointMain;
    return { name: spec, kind: 'main', run: (args) => checked(spec, (async () => main(args))()) };
  }
  const collectors = Object.entries(mod).filter(([, v]) => isCollector(v));
  const chosen = isCollector(mod.default) ? mod.default : isCollector(mod.collector) ? mod.collector : collectors.length === 1 ? collectors[0]![1] : undefined;
  if (!isCollector(chosen)) {
    throw new ConfigError(
      `entrypoint "${spec}" (${file}) exports neither main(…) nor a defineCollector collector${collectors.length > 1 ? ` (several collectors: ${collectors.map(([k]) => k).join(', ')}; export one as default)` : ''}`,
      { field: 'entrypoint' },
    );
  }
  return { name: spec, kind: 'collector', run: (args) => collectorRecords(spec, chosen, args) };
}
