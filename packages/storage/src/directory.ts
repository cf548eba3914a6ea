import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { ConfigError, type ConfigKey, loadConfig, requireConfig, StorageError, type TallyConfig, writeFileAtomic } from '@tally/core';
import { putBody } from './body.js';
import { checkName, dateFilter, globPrefix, globToRegExp } from './names.js';
import type { GlobOptions, LocalFile, PutSource, Store } from './storage.js';

export interface DirectoryOptions {
  /** Root directory (METRICS_UTILITY_SHIP_PATH). */
  base: string;
}

/** The settings the directory backend reads: METRICS_UTILITY_SHIP_PATH. */
const SETTINGS = ['shipPath'] as const satisfies readonly ConfigKey[];

/** A local directory. Writes are atomic (temp file, fsync, rename). */
export class DirectoryStorage implements Store {
  readonly backend = 'directory';
  readonly base: string;

  /** From METRICS_UTILITY_SHIP_PATH in `env` (validated; a missing one is one ConfigError line). */
  static fromEnv(env: Record<string, string | undefined>, extra: Partial<DirectoryOptions> = {}): DirectoryStorage {
    return DirectoryStorage.fromConfig(loadConfig({ env, keys: SETTINGS }), extra);
  }

  /** From `loadConfig()` values (environment and config file, as the CLI reads them). */
  static fromConfig(cfg: Pick<TallyConfig, (typeof SETTINGS)[number]>, extra: Partial<DirectoryOptions> = {}): DirectoryStorage {
    const c = requireConfig(cfg, SETTINGS, 'METRICS_UTILITY_SHIP_TARGET=directory');
    return new DirectoryStorage({ base: c.shipPath, ...extra });
  }

  constructor(opts: DirectoryOptions) {
    if (!opts.base) throw new ConfigError('storage directory: base path not set (METRICS_UTILITY_SHIP_PATH)', { field: 'METRICS_UTILITY_SHIP_PATH' });
    this.base = resolve(opts.base);
  }

  private path(name: string): string {
    const p = resolve(this.base, checkName(this.backend, name));
    if (!p.startsWith(this.base.endsWith(sep) ? this.base : this.base + sep)) {
      throw new StorageError(this.backend, `name "${name}" does not name a file below ${this.base}`);
    }
    return p;
  }

  private wrap(op: string, name: string, err: unknown): StorageError {
    if (err instanceof StorageError) return err;
    return new StorageError(this.backend, `${op} ${name} failed: ${(err as Error).message}`, { cause: err });
  }

  async put(name: string, source: PutSource): Promise<void> {
    const path = this.path(name);
    // Read once, straight into the temp file: no spool for a stream.
    const body = await putBody(this.backend, name, source, { replayable: false });
    try {
      await writeFileAtomic(path, body.data ?? body.stream());
    } catch (err) {
      throw this.wrap('put', name, err);
    } finally {
      await body.release();
    }
  }

  /** stat, where only "not there" means undefined: a permission error must not read as absence. */
  private async statOf(op: string, name: string, path: string) {
    return stat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
      throw this.wrap(op, name, err);
    });
  }

  async get(name: string): Promise<LocalFile> {
    const path = this.path(name);
    const s = await this.statOf('get', name, path);
    if (!s?.isFile()) throw new StorageError(this.backend, `get ${name}: no such object`);
    // The object is already local: hand out the real path, nothing to remove.
    const release = async () => {};
    return { path, release, [Symbol.asyncDispose]: release };
  }

  /** Size and modification time (whole ms) of `name`, without reading it: what a listing shows. */
  async stat(name: string): Promise<{ size: number; mtimeMs: number }> {
    const s = await this.statOf('stat', name, this.path(name));
    if (!s?.isFile()) throw new StorageError(this.backend, `stat ${name}: no such object`);
    return { size: s.size, mtimeMs: Math.trunc(s.mtimeMs) };
  }

  async exists(name: string): Promise<boolean> {
    const s = await this.statOf('exists', name, this.path(name));
    return s?.isFile() ?? false;
  }

  async remove(name: string): Promise<void> {
    const path = this.path(name);
    await rm(path, { force: true }).catch((err: unknown) => {
      throw this.wrap('remove', name, err);
    });
  }

  async glob(pattern: string, opts: GlobOptions = {}): Promise<string[]> {
    checkName(this.backend, pattern);
    const re = globToRegExp(pattern, true);
    // Walk only below the literal directory prefix of the pattern.
    const prefix = globPrefix(pattern);
    const startRel = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const out: string[] = [];
    const walk = async (rel: string): Promise<void> => {
      const entries = await readdir(join(this.base, rel), { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
        // A pattern below a directory that does not exist matches nothing.
        if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return [];
        throw this.wrap('glob', pattern, err);
      });
      for (const e of entries) {
        if (e.name.startsWith('.')) continue; // hidden and in-flight temp files
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) await walk(r);
        else if (e.isFile() && re.test(r) && dateFilter(r, opts)) out.push(r);
      }
    };
    await walk(startRel);
    return out.sort();
  }

  describe(): Record<string, unknown> {
    return { backend: this.backend, base: this.base };
  }
}

/** Make sure the base directory exists (useful before a first gather). */
export async function ensureDirectory(base: string): Promise<void> {
  await mkdir(base, { recursive: true });
}
