import type { TempDir } from '@tally/core';
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
