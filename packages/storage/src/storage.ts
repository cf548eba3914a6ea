import type { Readable } from 'node:stream';

/** What to store: a JSON-serialisable dict, a local file, a stream or an in-memory buffer. */
export type PutSource =
  | { dict: unknown }
  | { filename: string }
  | { stream: Readable }
  | { buffer: Uint8Array | string };

/** A local copy of a stored object; `release()` removes any temporary copy. */
export interface LocalFile extends AsyncDisposable {
  readonly path: string;
  release(): Promise<void>;
}

export interface GlobOptions {
  /** Keep names whose first `YYYY-MM-DD-HHMMSS±ZZZZ` stamp is ≥ since. */
  since?: Date;
  /** Keep names whose first stamp is < until. */
  until?: Date;
}

/**
 * The storage contract shared by every backend. Names are relative, `/`-separated
 * keys such as `data/2024/03/11/<uuid>-…-0.tar.gz`. Errors are `StorageError`s
 * naming the backend.
 */
export interface Storage {
  /** Backend name: `directory`, `s3`, `segment`, `crc`, `crc-mutual`, `postgres`. */
  readonly backend: string;
  put(name: string, source: PutSource): Promise<void>;
  get(name: string): Promise<LocalFile>;
  exists(name: string): Promise<boolean>;
  remove(name: string): Promise<void>;
  glob(pattern: string, opts?: GlobOptions): Promise<string[]>;
  /** Where data goes, without secrets; safe to print or persist. */
  describe(): Record<string, unknown>;
  close?(): Promise<void>;
}
