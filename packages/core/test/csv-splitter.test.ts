import { readFileSync, readdirSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CsvSplitter, tempdir, type TempDir } from '@tally/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

let dir: TempDir;
beforeEach(async () => {
  dir = await tempdir('core-split');
});
afterEach(async () => {
  await dir.remove();
});

/** Stream `text` into a splitter in chunks of `chunk` bytes. */
async function split(text: string, maxFileSize: number, chunk = 7, key = 't'): Promise<string[]> {
  const bytes = Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk));
  const splitter = new CsvSplitter({ dir: dir.path, key, maxFileSize });
  await pipeline(Readable.from(parts), splitter);
  return splitter.files;
}

const name = (p: string) => p.slice(dir.path.length + 1);

describe('CsvSplitter', () => {
  it('keeps a single part named {key}.csv with the exact bytes', async () => {
    const text = 'a,b\n1,2\n3,"x\ny"\n';
    const files = await split(text, 1024);
    expect(files.map(name)).toEqual(['t.csv']);
    expect(readFileSync(files[0]!, 'utf8')).toBe(text);
  });

  it('splits at row boundaries into {key}_split{N}.csv parts, each with the header, none over the limit', async () => {
    const header = 'id,text\n';
    const rows = Array.from({ length: 20 }, (_, i) => `${i},row number ${i}\n`);
    const files = await split(header + rows.join(''), 40, 5);
    expect(files.length).toBeGreaterThan(3);
    expect(files.map(name)).toEqual(files.map((_, i) => `t_split${i}.csv`));
    const seen: string[] = [];
    for (const f of files) {
      const content = readFileSync(f, 'utf8');
      expect(content.startsWith(header)).toBe(true);
      expect(Buffer.byteLength(content)).toBeLessThanOrEqual(40);
      seen.push(content.slice(header.length));
    }
    expect(seen.join('')).toBe(rows.join(''));
    expect(readdirSync(dir.path).sort()).toEqual(files.map(name).sort());
  });

  it('never cuts a quoted field holding newlines, commas and doubled quotes, whatever the chunking', async () => {
    const header = 'id,note\n';
    const rows = [
      '1,"line one\nline two\nline three"\n',
      '2,"he said ""hi,\nthere"""\n',
      '3,plain\n',
      '4,"\n\n\n"\n',
    ];
    for (const chunk of [1, 2, 3, 64]) {
      const files = await split(header + rows.join(''), 12, chunk, `c${chunk}`);
      // Every row is larger than the limit, so each gets a part of its own, whole, after the header.
      expect(files.map((f) => readFileSync(f, 'utf8'))).toEqual(rows.map((r) => header + r));
    }
  });

  it('counts bytes, not characters', async () => {
    const header = 'x\n';
    const row = `${'é'.repeat(5)}\n`; // 11 bytes, 6 characters
    const files = await split(header + row + row, 2 + 11 + 5);
    expect(files).toHaveLength(2);
  });

  it('writes a header-only file when there are no rows, and an empty file when there is nothing', async () => {
    const files = await split('a,b\n', 10);
    expect(files.map(name)).toEqual(['t.csv']);
    expect(readFileSync(files[0]!, 'utf8')).toBe('a,b\n');
    const none = await split('', 10, 7, 'empty');
    expect(none.map(name)).toEqual(['empty.csv']);
    expect(readFileSync(none[0]!, 'utf8')).toBe('');
  });

  it('keeps a last row without a trailing newline', async () => {
    const files = await split('a\n1\n2', 1024);
    expect(readFileSync(files[0]!, 'utf8')).toBe('a\n1\n2');
  });

  it('names every part with partName when given, a lone part too', async () => {
    const named = async (text: string, key: string) => {
      const splitter = new CsvSplitter({ dir: dir.path, key, maxFileSize: 8, partName: (n) => `${key}-p${n}.csv` });
      await pipeline(Readable.from([Buffer.from(text)]), splitter);
      return splitter.files.map(name);
    };
    expect(await named('h\n1\n', 'one')).toEqual(['one-p0.csv']);
    expect(await named('h\n111\n222\n', 'two')).toEqual(['two-p0.csv', 'two-p1.csv']);
    expect(readdirSync(dir.path).sort()).toEqual(['one-p0.csv', 'two-p0.csv', 'two-p1.csv']);
  });

  it('rejects a non-positive limit', () => {
    expect(() => new CsvSplitter({ dir: dir.path, key: 'x', maxFileSize: 0 })).toThrow(/maxFileSize/);
  });

  it('streams a large input with flat memory', async () => {
    const header = Buffer.from('id,payload\n');
    const row = Buffer.from(`1,"${'z'.repeat(200)}\n${'y'.repeat(50)}"\n`);
    const total = 32 * 1024 * 1024;
    const count = Math.ceil(total / row.length);
    const batch = Buffer.concat(Array.from({ length: 256 }, () => row));
    async function* gen() {
      yield header;
      for (let i = 0; i < count; i += 256) yield batch;
    }
    const splitter = new CsvSplitter({ dir: dir.path, key: 'big', maxFileSize: 8 * 1024 * 1024 });
    const before = process.memoryUsage().rss;
    await pipeline(Readable.from(gen()), splitter);
    const grown = process.memoryUsage().rss - before;
    expect(splitter.files.length).toBeGreaterThanOrEqual(4);
    expect(grown).toBeLessThan(48 * 1024 * 1024);
    for (const f of splitter.files) {
      const head = readFileSync(f).subarray(0, header.length);
      expect(head.equals(header)).toBe(true);
    }
  });
});
