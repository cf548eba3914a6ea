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
 * Somewhere data can be sent: every backend is one. Names are relative,
 * `/`-separated keys such as `data/2024/03/11/<uuid>-…-0.tar.gz`. Errors are
 * `StorageError`s naming the backend.
 */
export interface Sink {
  /** Backend name: `directory`, `s3`, `segment`, `crc`, `crc-mutual`, `postgres`. */
  readonly backend: string;
  put(name: string, source: PutSource): Promise<void>;
  /** Where data goes, without secrets; safe to print or persist. */
  describe(): Record<string, unknown>;
  close?(): Promise<void>;
}

/** A Sink whose objects can be read back, listed and removed (directory, S3, PostgreSQL). */
export interface Store extends Sink {
  get(name: string): Promise<LocalFile>;
  exists(name: string): Promise<boolean>;
  remove(name: string): Promise<void>;
  glob(pattern: string, opts?: GlobOptions): Promise<string[]>;
}

/** Whether a sink can also be read back: decide once, where the sink is chosen, not per call. */
export function isStore(sink: Sink): sink is Store {
  const s = sink as Partial<Store>;
  return typeof s.get === 'function' && typeof s.exists === 'function' && typeof s.remove === 'function' && typeof s.glob === 'function';
}
