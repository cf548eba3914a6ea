import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

function tempSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Write a file atomically: readers see the old file or the complete new one,
 * never a partial write (temp file in the same directory, fsync, rename).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array | Readable): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) {
      await writeFile(tmp, data, { mode: 0o644 });
    } else {
      const out = createWriteStream(tmp, { mode: 0o644 });
      try {
        await pipeline(data, out);
      } catch (err) {
        // The stream may still be opening the file: wait until it is closed, or cleanup races it.
        if (!out.closed) await once(out, 'close').catch(() => {});
        throw err;
      }
    }
    const fh = await open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
