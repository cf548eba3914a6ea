import { mkdtempSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ConfigError, StorageError } from '@tally/core';
import { DirectoryStorage, globToRegExp } from '@tally/storage';
import { storageContract } from '@tally/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const roots: string[] = [];
function freshRoot(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tally-dir-test-'));
  roots.push(dir);
  return dir;
}
afterAll(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

storageContract('directory', () => new DirectoryStorage({ base: freshRoot() }), { starCrossesSlash: false });

async function listAll(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(e.name);
  return out;
}

describe('DirectoryStorage', () => {
  it('needs a base path (METRICS_UTILITY_SHIP_PATH)', () => {
    expect(() => new DirectoryStorage({ base: '' })).toThrow(ConfigError);
    expect(() => new DirectoryStorage({ base: '' })).toThrow(/METRICS_UTILITY_SHIP_PATH/);
  });

  it('writes dicts as Python json.dump text', async () => {
    const base = freshRoot();
    const s = new DirectoryStorage({ base });
    await s.put('a/b/c.json', { dict: { foo: 5, bar: 'baz', x: 'é' } });
    expect(await readFile(join(base, 'a/b/c.json'), 'utf8')).toBe('{"foo": 5, "bar": "baz", "x": "\\u00e9"}');
  });

  it('a put whose stream fails leaves neither the file nor a temp file', async () => {
    const base = freshRoot();
    const s = new DirectoryStorage({ base });
    async function* failing() {
      yield Buffer.alloc(64 * 1024, 1);
      throw new Error('disk on fire');
    }
    const err = await s.put('x/partial.tar.gz', { stream: Readable.from(failing()) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as Error).message).toMatch(/storage directory: put x\/partial\.tar\.gz failed: disk on fire/);
    expect(await s.exists('x/partial.tar.gz')).toBe(false);
    expect(await listAll(base)).toEqual([]);
  });

  it('a failed overwrite keeps the previous complete file', async () => {
    const base = freshRoot();
    const s = new DirectoryStorage({ base });
    await s.put('keep.json', { dict: { v: 1 } });
    async function* failing() {
      yield Buffer.from('{"v": 2');
      throw new Error('cut');
    }
    await expect(s.put('keep.json', { stream: Readable.from(failing()) })).rejects.toThrow(StorageError);
    expect(await readFile(join(base, 'keep.json'), 'utf8')).toBe('{"v": 1}');
    expect(await listAll(base)).toEqual(['keep.json']);
  });

  it('refuses names that resolve to the root itself or escape it', async () => {
    const s = new DirectoryStorage({ base: freshRoot() });
    await expect(s.put('.', { buffer: 'x' })).rejects.toThrow(/does not name a file/);
    await expect(s.put('a/..', { buffer: 'x' })).rejects.toThrow(/\.\./);
    await expect(s.get('C:\\windows')).rejects.toThrow(/absolute/);
  });

  it('globs relative to the base, with or without a trailing slash, skipping hidden files', async () => {
    const base = freshRoot();
    await mkdir(join(base, 'data/2024/03/11'), { recursive: true });
    await writeFile(join(base, 'data/2024/03/11/one.tar.gz'), 'x');
    await writeFile(join(base, 'data/2024/03/11/.one.tar.gz.abc.tmp'), 'x');
    await writeFile(join(base, 'top.tar.gz'), 'x');
    for (const b of [base, `${base}/`]) {
      const s = new DirectoryStorage({ base: b });
      expect(await s.glob('data/*/*/*/*')).toEqual(['data/2024/03/11/one.tar.gz']);
      expect(await s.glob('**/*.tar.gz')).toEqual(['data/2024/03/11/one.tar.gz', 'top.tar.gz']);
      expect(await s.glob('*.tar.gz')).toEqual(['top.tar.gz']);
      expect(await s.glob('data/2024/03/11/one.tar.gz')).toEqual(['data/2024/03/11/one.tar.gz']);
    }
  });

  it('exists() is false only for absence; other failures are StorageErrors', async () => {
    const base = freshRoot();
    const s = new DirectoryStorage({ base });
    await s.put('file.txt', { buffer: 'x' });
    expect(await s.exists('file.txt/inner')).toBe(false); // ENOTDIR
    await symlink('loop', join(base, 'loop'));
    await expect(s.exists('loop')).rejects.toThrow(/storage directory: exists loop failed: .*ELOOP/);
    await expect(s.get('loop')).rejects.toThrow(StorageError);
  });

  it('get() hands out the real file, which release() leaves in place', async () => {
    const base = freshRoot();
    const s = new DirectoryStorage({ base });
    await s.put('f.txt', { buffer: 'hello' });
    await using local = await s.get('f.txt');
    expect(local.path).toBe(join(base, 'f.txt'));
    await local.release();
    expect(await readFile(join(base, 'f.txt'), 'utf8')).toBe('hello');
  });
});

describe('globToRegExp', () => {
  it('segments for directories and crosses / for key-value stores', () => {
    expect(globToRegExp('a/*.gz').test('a/b/c.gz')).toBe(false);
    expect(globToRegExp('a/*.gz', false).test('a/b/c.gz')).toBe(true);
    expect(globToRegExp('a/[!x]?.gz').test('a/yz.gz')).toBe(true);
    expect(globToRegExp('a/[!x]?.gz').test('a/xz.gz')).toBe(false);
    expect(globToRegExp('a.(b)+').test('a.(b)+')).toBe(true);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
  });
});

// The contract's Sink mode (for Segment/CRC-like backends), exercised through a
// wrapper that only exposes put/describe and lets the suite read what arrived.
const putOnlyBase = freshRoot();
const inner = new DirectoryStorage({ base: putOnlyBase });
storageContract(
  'put-only view of a directory',
  () => ({ backend: 'directory', put: (name, source) => inner.put(name, source), describe: () => inner.describe() }),
  {
    readable: false,
    received: async (name) => {
      const bytes = await readFile(join(putOnlyBase, name));
      return name.endsWith('.json') ? JSON.parse(bytes.toString('utf8')) : bytes;
    },
  },
);
