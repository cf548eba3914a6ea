import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { splitCsvFile, writeTarball } from '@tally/package';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-split-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function record(i: number): string {
  // Every few rows a quoted value holding commas, doubled quotes and line breaks.
  if (i % 7 === 0) return `${i},"multi\nline, ""quoted""\nvalue ${'y'.repeat(i % 300)}",end\n`;
  return `${i},plain ${'x'.repeat(i % 500)},end\n`;
}

describe('splitCsvFile', () => {
  it('cuts between records only, repeats the header, keeps every part within the budget', async () => {
    const header = 'id,text,tail\n';
    let body = '';
    for (let i = 0; body.length < 3 * 1024 * 1024; i++) body += record(i);
    const path = join(dir, 'events.csv');
    await writeFile(path, header + body);
    const max = 100 * 1024;
    const parts = await splitCsvFile(path, max);
    expect(parts.length).toBeGreaterThan(30);
    expect(parts[0]).toBe(join(dir, 'events_part0.csv'));
    let rebuilt = '';
    for (const p of parts) {
      const text = await readFile(p, 'utf8');
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(max);
      expect(text.startsWith(header)).toBe(true);
      expect((text.match(/"/g) ?? []).length % 2).toBe(0);
      expect(text.endsWith('\n')).toBe(true);
      rebuilt += text.slice(header.length);
    }
    expect(rebuilt).toBe(body);
  });

  it('leaves a file that fits alone; a last record without a line break and an oversized record survive', async () => {
    const small = join(dir, 'small.csv');
    await writeFile(small, 'a\n1\n');
    expect(await splitCsvFile(small, 100)).toEqual([small]);
    const odd = join(dir, 'odd.csv');
    await writeFile(odd, `h\n${'1'.repeat(50)}\n${'2'.repeat(300)}\n${'3'.repeat(20)}`);
    const parts = await splitCsvFile(odd, 100);
    expect(await Promise.all(parts.map((p) => readFile(p, 'utf8')))).toEqual([`h\n${'1'.repeat(50)}\n`, `h\n${'2'.repeat(300)}\n`, `h\n${'3'.repeat(20)}`]);
  });
});

describe('streaming', () => {
  it('packages and splits a large CSV without holding it in memory', async () => {
    const size = 160 * 1024 * 1024;
    const path = join(dir, 'big.csv');
    const line = `${'1234567890,'.repeat(9)}abcdefghi\n`; // 109 bytes
    const block = Buffer.from(line.repeat(Math.floor((1024 * 1024) / line.length)));
    const ws = createWriteStream(path);
    ws.write('c0,c1,c2,c3,c4,c5,c6,c7,c8,c9\n');
    let written = 0;
    while (written < size) {
      if (!ws.write(block)) await new Promise<void>((r) => ws.once('drain', () => r()));
      written += block.length;
    }
    await new Promise<void>((r) => ws.end(() => r()));

    const used = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const baseline = used();
    let peak = baseline;
    const timer = setInterval(() => {
      peak = Math.max(peak, used());
    }, 5);
    try {
      const res = await writeTarball(
        join(dir, 'big.tar.gz'),
        { members: [{ key: 'big', format: 'csv', version: '1.0', source: { file: path } }], config: { version: '1.0', source: { json: {} } }, status: [] },
        { mtime: new Date(0), gzipLevel: 1 },
      );
      expect(res.dataBytes).toBe((await stat(path)).size);
      const parts = await splitCsvFile(path, 64 * 1024 * 1024);
      expect(parts).toHaveLength(3);
      const sizes = await Promise.all(parts.map(async (p) => (await stat(p)).size));
      expect(sizes.reduce((a, b) => a + b, 0)).toBe((await stat(path)).size + 2 * 'c0,c1,c2,c3,c4,c5,c6,c7,c8,c9\n'.length);
      for (const n of sizes) expect(n).toBeLessThanOrEqual(64 * 1024 * 1024);
    } finally {
      clearInterval(timer);
    }
    // Far less than the 160 MiB that went through.
    expect(peak - baseline).toBeLessThan(48 * 1024 * 1024);
  });
});
