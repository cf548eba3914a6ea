import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { StorageError } from '@tally/core';
import { putBody } from '@tally/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-body-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const read = async (s: Readable) => {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
};

describe('putBody', () => {
  it('a dict is Python json.dump text in memory, typed application/json, and keeps the dict', async () => {
    const dict = { a: 1, b: [1, 'x'], ü: null };
    const b = await putBody('t', 'x.json', { dict });
    expect(b.kind).toBe('dict');
    expect(b.dict).toBe(dict);
    expect(b.contentType).toBe('application/json');
    expect(b.data?.toString('utf8')).toBe('{"a": 1, "b": [1, "x"], "\\u00fc": null}');
    expect(b.size).toBe(b.data!.length);
    expect((await read(b.stream())).equals(b.data!)).toBe(true);
  });

  it('a buffer (bytes or text) is sent as it is', async () => {
    const bytes = new Uint8Array([0, 1, 2, 255]).subarray(1);
    const b = await putBody('t', 'x', { buffer: bytes });
    expect([...b.data!]).toEqual([1, 2, 255]);
    expect(b.contentType).toBe('application/octet-stream');
    expect((await putBody('t', 'x', { buffer: 'héllo' })).data!.toString('utf8')).toBe('héllo');
  });

  it('a file is its path and size, readable as often as needed; a missing one or a directory is a StorageError naming it', async () => {
    const f = join(dir, 'f.bin');
    await writeFile(f, 'file body');
    const b = await putBody('t', 'x', { filename: f });
    expect(b).toMatchObject({ kind: 'file', path: f, size: 9 });
    expect((await read(b.stream())).toString()).toBe('file body');
    expect((await b.bytes()).toString()).toBe('file body');
    await b.release();
    expect(existsSync(f)).toBe(true);
    for (const filename of [join(dir, 'missing.bin'), dir]) {
      const err = await putBody('t', 'obj', { filename }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect((err as Error).message).toContain(`storage t: put obj: ${filename} is not a readable file`);
    }
  });

  it('a stream is spooled to a private file, replayable, and the spool goes on release', async () => {
    const b = await putBody('t', 'x', { stream: Readable.from([Buffer.from('one '), Buffer.from('two')]) });
    expect(b).toMatchObject({ kind: 'stream', size: 7 });
    expect((await read(b.stream())).toString()).toBe('one two');
    expect((await read(b.stream())).toString()).toBe('one two');
    expect(await readFile(b.path!, 'utf8')).toBe('one two');
    await b.release();
    expect(existsSync(dirname(b.path!))).toBe(false);
  });

  it('a stream read once (replayable: false) is not spooled and cannot be read twice', async () => {
    const b = await putBody('t', 'x', { stream: Readable.from([Buffer.from('once')]) }, { replayable: false });
    expect(b.path).toBeUndefined();
    expect(b.size).toBeUndefined();
    expect((await b.bytes()).toString()).toBe('once');
    expect(() => b.stream()).toThrow(/only once/);
  });

  it('a failing stream is a StorageError and leaves no spool behind', async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error('source broke'));
      },
    });
    const err = await putBody('spoolcheck', 'obj', { stream: failing }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as Error).message).toBe('storage spoolcheck: put obj: reading the source stream failed: source broke');
    expect((await readdir(tmpdir())).filter((n) => n.startsWith('tally-spoolcheck-put-'))).toEqual([]);
  });
});
