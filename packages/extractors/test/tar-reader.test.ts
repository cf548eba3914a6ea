import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractFileSync } from '../src/extract-file.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tally-tar-reader-test-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

type Format = 'ustar' | 'gnu' | 'v7';

/** One 512-byte header block, built by hand so that every field can be what a test needs. */
function header(name: string, size: number, flag: string, format: Format = 'ustar', opts: { prefix?: string; base256?: boolean } = {}): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, 'utf8');
  b.write('0000644\0', 100, 'latin1');
  b.write('0000000\0', 108, 'latin1');
  b.write('0000000\0', 116, 'latin1');
  if (opts.base256) {
    b[124] = 0x80;
    for (let i = 11, n = size; i > 0; i--, n = Math.floor(n / 256)) b[124 + i] = n % 256;
  } else b.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  b.write('00000000000\0', 136, 'latin1');
  b.write(flag, 156, 'latin1');
  if (format === 'ustar') b.write('ustar\x0000', 257, 'latin1');
  if (format === 'gnu') b.write('ustar  \0', 257, 'latin1');
  if (opts.prefix) b.write(opts.prefix, 345, 155, 'utf8');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}

/** A member: its header and its data padded to whole blocks. */
function member(name: string, content: string | Buffer, flag = '0', format: Format = 'ustar', opts: { prefix?: string; base256?: boolean } = {}): Buffer {
  const data = Buffer.from(content);
  return Buffer.concat([header(name, data.length, flag, format, opts), data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (`${len}${body}`.length !== len) len += 1;
  return `${len}${body}`;
}

const END = Buffer.alloc(1024);

interface Outcome {
  files?: Record<string, boolean>;
  records?: Record<string, number>;
  error?: string;
  written: Record<string, string>;
}

async function extract(name: string, tar: Buffer, gzipped?: Buffer): Promise<Outcome> {
  const path = join(root, `${name}.tar.gz`);
  await writeFile(path, gzipped ?? gzipSync(tar));
  const dest = await mkdtemp(join(root, `${name}-`));
  let result: Omit<Outcome, 'written'>;
  try {
    const x = extractFileSync(path, dest);
    result = { files: Object.fromEntries(x.files.map(([k]) => [k, true])), records: Object.fromEntries(x.records) };
  } catch (err) {
    result = { error: (err as Error).message };
  }
  const written: Record<string, string> = {};
  for (const f of await readdir(dest)) written[f] = await readFile(join(dest, f), 'utf8');
  return { ...result, written };
}

describe('the tar reader (tar-stream rules, synchronous)', () => {
  it('reads ustar, GNU and pax long names, a ustar prefix and a base-256 size', async () => {
    const long = `${'n'.repeat(130)}.csv`;
    const tar = Buffer.concat([
      member('./', '', '5'),
      member('a.csv', 'h\n1\n', '0', 'gnu'),
      // GNU long name: an 'L' record, then the member under a truncated name.
      member('././@LongLink', `${long}\0`, 'L', 'gnu'),
      member(long.slice(0, 99), 'h\n1\n2\n', '0', 'gnu'),
      // pax path and size override the header's (which says 0 bytes).
      member('PaxHeaders/p', paxRecord('path', 'b.csv') + paxRecord('size', '6'), 'x'),
      header('p', 0, '0'),
      Buffer.concat([Buffer.from('x\n7\n8\n'), Buffer.alloc(506)]),
      member('c.json', '{}', '0', 'ustar', { prefix: '.' }),
      member('d.csv', 'h\n', '0', 'ustar', { base256: true }),
      END,
    ]);
    const r = await extract('names', tar);
    expect(r).toEqual({
      files: { 'a.csv': true, [long]: true, 'b.csv': true, 'c.json': true, 'd.csv': true },
      records: { 'a.csv': 1, [long]: 2, 'b.csv': 2, 'd.csv': 0 },
      written: { 'a.csv': 'h\n1\n', [long]: 'h\n1\n2\n', 'b.csv': 'x\n7\n8\n', 'c.json': '{}', 'd.csv': 'h\n' },
    });
  });

  it('reads a member inflated across many output chunks, and gzip members concatenated', async () => {
    const big = `h\n${'0123456789abcdef,"x\ny"\n'.repeat(200_000)}`;
    const tar = Buffer.concat([member('big.csv', big), member('small.csv', 'h\n1\n'), END]);
    const split = 700_001; // gzip members may split a tar anywhere
    const r = await extract('concat', tar, Buffer.concat([gzipSync(tar.subarray(0, split)), gzipSync(tar.subarray(split))]));
    expect(r.records).toEqual({ 'big.csv': 200_000, 'small.csv': 1 });
    expect(r.written['big.csv']).toBe(big);
  });

  it('refuses a bad checksum, an unknown format, a tar cut short, gzip garbage and an unknown type', async () => {
    const good = member('a.csv', 'h\n1\n');
    const badSum = Buffer.from(good);
    badSum[0] = 0x62; // 'b': the name changes, the checksum does not
    expect((await extract('cksum', Buffer.concat([badSum, END]))).error).toMatch(/^unreadable archive \(Invalid tar header\. Maybe/);
    expect((await extract('v7', Buffer.concat([member('a.csv', 'x', '0', 'v7'), END]))).error).toMatch(/unknown format/);
    expect((await extract('cut', good.subarray(0, 600))).error).toBe('truncated archive (Unexpected end of data)');
    expect((await extract('partial', Buffer.concat([good, END.subarray(0, 100)]))).error).toBe('truncated archive (Unexpected end of data)');
    const tar = Buffer.concat([good, END]);
    expect((await extract('garbage', tar, Buffer.concat([gzipSync(tar), Buffer.from('garbage')]))).error).toMatch(/^corrupt gzip data/);
    const gz = gzipSync(tar);
    expect((await extract('gz-cut', tar, gz.subarray(0, gz.length - 3))).error).toMatch(/^truncated archive \(unexpected end of file/);
    expect((await extract('type', Buffer.concat([member('a.csv', 'x', 'Z'), END]))).error).toMatch(/"a\.csv" is a member of an unknown type/);
    const fifo = await extract('fifo', Buffer.concat([good, member('b.csv', '', '6'), END]));
    expect(fifo.error).toMatch(/"b\.csv" is a fifo; only regular files/);
  });

  it('ignores trailing zero blocks and zero gzip padding after the archive', async () => {
    const tar = Buffer.concat([member('a.csv', 'h\n1\n'), END, END]);
    const r = await extract('zeros', tar, Buffer.concat([gzipSync(tar), Buffer.alloc(100)]));
    expect(r).toEqual({ files: { 'a.csv': true }, records: { 'a.csv': 1 }, written: { 'a.csv': 'h\n1\n' } });
  });
});
