import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { type DataMember, readTarballMembers, writeTarball } from '@tally/package';
import { metricsUtilityTarballs } from '@tally/testkit';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The fixture's members, read with tar-stream directly (not through the code under test). */
async function extractFixture(path: string): Promise<{ name: string; data: Buffer; mtime: Date }[]> {
  const out: { name: string; data: Buffer; mtime: Date }[] = [];
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    stream.on('end', () => {
      // One fixture was re-packed on macOS: it holds a `./` directory entry and an AppleDouble `._` file,
      // which extraction drops. Everything else is a regular file member.
      const macJunk = header.type !== 'file' || header.name.split('/').pop()!.startsWith('._');
      if (!macJunk) out.push({ name: header.name, data: Buffer.concat(chunks), mtime: header.mtime ?? new Date(0) });
      next();
    });
  });
  await pipeline(createReadStream(path), createGunzip(), extract);
  return out;
}

const META = new Set(['./config.json', './data_collection_status.csv', './manifest.json']);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-package-interop-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('metrics-utility fixtures survive extract → package → extract', () => {
  const { base, names } = metricsUtilityTarballs();

  it('has fixtures to check', () => {
    expect(names.length).toBeGreaterThan(10);
  });

  it.each(names)('%s', async (name) => {
    const original = await extractFixture(join(base, name));
    const manifest = JSON.parse(original.find((m) => m.name === './manifest.json')!.data.toString()) as Record<string, string>;
    const work = join(dir, name.replace(/\//g, '_'));
    await mkdir(work, { recursive: true });
    const members: DataMember[] = [];
    for (const m of original.filter((x) => !META.has(x.name))) {
      const file = m.name.slice(2);
      const dot = file.lastIndexOf('.');
      const format = file.slice(dot + 1);
      expect(['csv', 'json']).toContain(format);
      const key = file.slice(0, dot);
      if (format === 'csv') {
        const path = join(work, file);
        await writeFile(path, m.data);
        members.push({ key, format: 'csv', version: manifest[file]!, source: { file: path } });
      } else {
        members.push({ key, format: 'json', version: manifest[file]!, source: { text: m.data } });
      }
    }
    const config = original.find((m) => m.name === './config.json')!;
    const out = join(work, 'out.tar.gz');
    await writeTarball(
      out,
      { members, config: { version: manifest['config.json']!, source: { text: config.data } }, status: [] },
      { mtime: config.mtime },
    );
    const again = await readTarballMembers(out);
    expect(again.map((m) => m.name)).toEqual(original.map((m) => m.name));
    for (const m of original) {
      if (m.name === './data_collection_status.csv') continue;
      // Data members, config.json and the manifest come back byte for byte.
      expect(again.find((x) => x.name === m.name)!.data.equals(m.data), m.name).toBe(true);
    }
  });
});
