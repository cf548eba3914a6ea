import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';

export interface TarMember {
  name: string;
  size: number;
  mtime?: Date;
  uid?: number;
  gid?: number;
  data: Buffer;
}

/**
 * Every member of a `.tar.gz` with its bytes, in archive order. Holds the
 * members in memory: for checks and tests on small tarballs, not for extraction
 * of untrusted input (that is @tally/extractors' job).
 */
export async function readTarballMembers(path: string): Promise<TarMember[]> {
  const out: TarMember[] = [];
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    stream.on('end', () => {
      const m: TarMember = { name: header.name, size: header.size ?? 0, data: Buffer.concat(chunks) };
      if (header.mtime) m.mtime = header.mtime;
      if (header.uid !== undefined) m.uid = header.uid;
      if (header.gid !== undefined) m.gid = header.gid;
      out.push(m);
      next();
    });
  });
  await pipeline(createReadStream(path), createGunzip(), extract);
  return out;
}
