import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tarballStamp } from './instants.js';

export interface TempDir extends AsyncDisposable {
  readonly path: string;
  remove(): Promise<void>;
}

/** A fresh private directory `{prefix}-{stamp}-{random}` under the OS temp dir. */
export async function tempdir(prefix = 'tally', parent = tmpdir()): Promise<TempDir> {
  const path = await mkdtemp(join(parent, `${prefix}-${tarballStamp(new Date())}-`));
  const remove = () => rm(path, { recursive: true, force: true });
  return { path, remove, [Symbol.asyncDispose]: remove };
}

/** Callback form: the directory is removed when `fn` settles, also on error. */
export async function withTempdir<T>(prefix: string, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await tempdir(prefix);
  try {
    return await fn(dir.path);
  } finally {
    await dir.remove();
  }
}
