import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';

/** A member for `packTarball`: a regular file by default. */
export interface PackMember {
  name: string;
  content?: string | Uint8Array;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  linkname?: string;
}

/**
 * Write a `.tar.gz` holding `members` (test fixtures and tools; the gather pipeline has its
 * own packager). Parent directories of `path` are created.
 */
export async function packTarball(path: string, members: readonly PackMember[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const pack = tar.pack();
  const done = pipeline(pack, createGzip(), createWriteStream(path));
  for (const m of members) {
    const type = m.type ?? 'file';
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (type === 'file') pack.entry({ name: m.name, type, mode: 0o644 }, m.content ?? '', cb);
      else pack.entry({ name: m.name, type, linkname: m.linkname ?? '', mode: 0o755 }, cb);
    });
  }
  pack.finalize();
  await done;
}
