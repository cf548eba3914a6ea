import { StorageError, type TempDir } from '@tally/core';
import type { LocalFile } from './storage.js';

/** A local file inside a temp dir of its own; releasing it (once) removes the dir. */
export function tempLocalFile(path: string, dir: TempDir): LocalFile {
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await dir.remove();
  };
  return { path, release, [Symbol.asyncDispose]: release };
}

/**
 * Read operations of a put-only backend (Segment, the console ingress): each
 * throws a StorageError naming the backend and saying why.
 */
export abstract class PutOnlyStorage {
  abstract readonly backend: string;
  /** Why nothing can be read back, e.g. "the console ingress is a put-only backend". */
  protected abstract readonly putOnlyReason: string;

  async get(name: string): Promise<LocalFile> {
    throw this.unsupported('get', name);
  }

  async exists(name: string): Promise<boolean> {
    throw this.unsupported('exists', name);
  }

  async remove(name: string): Promise<void> {
    throw this.unsupported('remove', name);
  }

  async glob(pattern: string): Promise<string[]> {
    throw this.unsupported('glob', pattern);
  }

  private unsupported(op: string, name: string): StorageError {
    return new StorageError(this.backend, `${op} ${name}: not supported, ${this.putOnlyReason}`);
  }
}
