import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ExtractError } from '@tally/core';

const WANTED = new Set(['job_host_summary.csv', 'main_jobevent.csv', 'config.json']);
const MAX_BYTES = 1024 ** 3;

/**
 * Minimal reader used only until @tally/extractors is available: writes the report's
 * members (by base name, regular files only, no paths kept) of a small `.tar.gz` into `dir`.
 */
export async function extractReportMembers(tarball: string, dir: string, name = tarball): Promise<Map<string, string>> {
  let buf: Buffer;
  try {
    buf = gunzipSync(await readFile(tarball), { maxOutputLength: MAX_BYTES });
  } catch (err) {
    throw new ExtractError(name, `not a readable .tar.gz: ${(err as Error).message}`, { cause: err });
  }
  const out = new Map<string, string>();
  let off = 0;
  while (off + 512 <= buf.length) {
    const header = buf.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const field = (a: number, b: number) => header.subarray(a, b).toString('utf8').replace(/\0.*$/s, '');
    const size = Number.parseInt(field(124, 136).trim() || '0', 8);
    const type = field(156, 157) || '0';
    const path = `${field(345, 500)}${field(345, 500) ? '/' : ''}${field(0, 100)}`;
    if (!Number.isFinite(size) || off + 512 + size > buf.length) throw new ExtractError(name, `truncated member ${path}`);
    const base = path.split('/').pop() ?? '';
    if ((type === '0' || type === '\0') && WANTED.has(base) && !path.split('/').includes('..')) {
      const dest = join(dir, base);
      await writeFile(dest, buf.subarray(off + 512, off + 512 + size));
      out.set(base, dest);
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}
