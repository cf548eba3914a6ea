import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CsvSplitter } from '@tally/core';

/**
 * Split a CSV file bigger than `maxBytes` into `{name}_part{N}.csv` files of at
 * most `maxBytes` bytes each, cut between records by core's `CsvSplitter` (quoted
 * multi-line values stay whole, every part starts with the header, a single record
 * bigger than the budget gets a part of its own). Streams: memory use does not grow
 * with the file. Returns `[path]` unchanged when it already fits; otherwise the
 * parts (the original is kept; on failure the parts made so far are removed).
 */
export async function splitCsvFile(path: string, maxBytes: number, opts: { outDir?: string } = {}): Promise<string[]> {
  if (!(maxBytes > 0)) throw new RangeError(`splitCsvFile: maxBytes must be positive, got ${maxBytes}`);
  if ((await stat(path)).size <= maxBytes) return [path];
  const stem = basename(path).replace(/\.csv$/i, '');
  const splitter = new CsvSplitter({
    dir: opts.outDir ?? dirname(path),
    key: stem,
    maxFileSize: Math.max(1, Math.floor(maxBytes)),
    // Always numbered, so even a lone part never collides with the original `{name}.csv`.
    partName: (n) => `${stem}_part${n}.csv`,
  });
  try {
    await pipeline(createReadStream(path, { highWaterMark: 1024 * 1024 }), splitter);
  } catch (err) {
    await Promise.all(splitter.created.map((p) => rm(p, { force: true })));
    throw err;
  }
  return splitter.files;
}
