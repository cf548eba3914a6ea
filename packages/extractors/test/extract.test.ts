import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { ExtractError } from '@tally/core';
import { dayFolders, extractRange, extractTarball, JOB_HOST_SUMMARY_COLUMNS, jobHostSummarySchema, listTarballs, mapJobHostSummaryHeader } from '@tally/extractors';
import { packTarball } from '@tally/testkit';
import { DirectoryStorage } from '@tally/storage';
import { metricsUtilityTarballs } from '@tally/testkit';
import tar from 'tar-stream';
import { RecordCounter } from '../src/extract-file.js';
import { extractionWorkerRunning, holdExtractionWorker } from '../src/extract-in-worker.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tally-extractors-test-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const JHS = 'id,created,host_name\r\n1,2024-03-06 12:00:56+00,h1\r\n2,2024-03-06 12:00:57+00,h2';

/** A gzip bomb: one member whose header promises `size` bytes of zeros, streamed through zlib. */
async function writeBomb(path: string, size: number): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack, createGzip({ level: 1 }), createWriteStream(path));
  const entry = pack.entry({ name: 'job_host_summary.csv', size, type: 'file' });
  const chunk = Buffer.alloc(1024 * 1024);
  await pipeline(
    Readable.from(
      (function* () {
        for (let left = size; left > 0; left -= chunk.length) yield left >= chunk.length ? chunk : chunk.subarray(0, left);
      })(),
    ),
    entry,
  );
  pack.finalize();
  await done;
}

describe('dayFolders / listTarballs', () => {
  it('lists every UTC day folder in [since, until)', () => {
    expect(dayFolders(new Date('2024-02-28T10:00:00Z'), new Date('2024-03-02T00:00:00Z'))).toEqual([
      'data/2024/02/28',
      'data/2024/02/29',
      'data/2024/03/01',
    ]);
    expect(dayFolders(new Date('2024-03-01T00:00:00Z'), new Date('2024-03-01T00:00:00Z'))).toEqual([]);
    expect(dayFolders(new Date('2024-03-01T00:00:00Z'), new Date('2024-03-01T00:00:01Z'))).toEqual(['data/2024/03/01']);
  });

  it('finds the fixture tarballs of a range only', async () => {
    const { base } = metricsUtilityTarballs();
    const storage = new DirectoryStorage({ base });
    const names = await listTarballs(storage, new Date('2024-03-11T00:00:00Z'), new Date('2024-03-12T00:00:00Z'));
    expect(names).toHaveLength(2);
    expect(names.every((n) => n.startsWith('data/2024/03/11/'))).toBe(true);
  });
});

describe('extractRange on the metrics-utility fixtures', () => {
  it('reads every fixture tarball, including the macOS repack', async () => {
    const { base, names } = metricsUtilityTarballs();
    const storage = new DirectoryStorage({ base });
    const seen: { name: string; files: string[]; jhsSize: number; hasConfig: boolean }[] = [];
    const dirs: string[] = [];
    const result = await extractRange(
      { storage, since: new Date('2024-01-01T00:00:00Z'), until: new Date('2024-06-01T00:00:00Z') },
      async (t) => {
        dirs.push(t.dir);
        const jhs = t.file('job_host_summary.csv');
        seen.push({
          name: t.name,
          files: [...t.files.keys()].sort(),
          jhsSize: jhs ? (await stat(jhs)).size : -1,
          hasConfig: (await t.config())?.install_uuid !== undefined,
        });
      },
    );
    expect(result.failures).toEqual([]);
    expect(result.loaded).toEqual(names);
    expect(seen).toHaveLength(29);
    for (const s of seen) {
      expect(s.files).toEqual(['config.json', 'data_collection_status.csv', 'job_host_summary.csv', 'manifest.json']);
      expect(s.hasConfig).toBe(true);
    }
    const mac = seen.find((s) => s.name.startsWith('data/2024/04/17/'))!;
    expect(mac.jhsSize).toBe(801_628);
    // Temp directories are gone once the callback returned.
    for (const d of dirs) await expect(stat(d)).rejects.toThrow();
  });

  it('keeps only the requested members', async () => {
    const { base } = metricsUtilityTarballs();
    const storage = new DirectoryStorage({ base });
    const files: string[][] = [];
    await extractRange(
      {
        storage,
        since: new Date('2024-04-17T00:00:00Z'),
        until: new Date('2024-04-18T00:00:00Z'),
        only: ['job_host_summary.csv', 'config.json'],
      },
      async (t) => {
        files.push([...t.files.keys()].sort());
        const text = await readFile(t.file('job_host_summary.csv')!, 'utf8');
        expect(text.startsWith('id,created,modified,host_name,host_remote_id,')).toBe(true);
        expect(text.split('\r\n').length).toBeGreaterThan(3800);
      },
    );
    expect(files).toEqual([['config.json', 'job_host_summary.csv']]);
  });
});

describe('unsafe and broken tarballs', () => {
  it('reports each bad tarball by name and still loads the good ones', async () => {
    const base = join(root, 'bad');
    const day = join(base, 'data/2024/03/05');
    const name = (s: string) => `data/2024/03/05/${s}.tar.gz`;
    await packTarball(join(base, name('a-good')), [
      { name: './', type: 'directory' },
      { name: './._job_host_summary.csv', content: 'apple double junk' },
      { name: './job_host_summary.csv', content: JHS },
      { name: './config.json', content: '{"install_uuid": "u-1"}' },
      { name: './notes.txt', content: 'not wanted' },
    ]);
    await writeFile(join(day, 'b-corrupt.tar.gz'), Buffer.from('this is not gzip at all, just text'));
    await packTarball(join(day, 'full.tmp'), [{ name: 'job_host_summary.csv', content: JHS.repeat(200) }]);
    const full = await readFile(join(day, 'full.tmp'));
    await rm(join(day, 'full.tmp'));
    await writeFile(join(day, 'c-truncated.tar.gz'), full.subarray(0, Math.floor(full.length / 2)));
    await packTarball(join(base, name('d-evil')), [
      { name: 'config.json', content: '{}' },
      { name: '../evil.csv', content: 'x\n1\n' },
    ]);
    await packTarball(join(base, name('e-symlink')), [
      { name: 'config.json', content: '{}' },
      { name: 'job_host_summary.csv', type: 'symlink', linkname: '/etc/passwd' },
    ]);
    await writeBomb(join(day, 'f-bomb.tar.gz'), 256 * 1024 * 1024);
    await packTarball(join(base, name('g-absolute')), [{ name: '/tmp/job_host_summary.csv', content: JHS }]);
    await packTarball(join(base, name('h-many')), [
      { name: 'a.csv', content: '1' },
      { name: 'b.csv', content: '1' },
      { name: 'c.csv', content: '1' },
      { name: 'd.csv', content: '1' },
      { name: 'e.csv', content: '1' },
      { name: 'f.csv', content: '1' },
    ]);
    await packTarball(join(base, name('i-hardlink')), [
      { name: 'config.json', content: '{}' },
      { name: 'job_host_summary.csv', type: 'link', linkname: 'config.json' },
    ]);
    await packTarball(join(base, name('j-good')), [{ name: 'job_host_summary.csv', content: JHS }]);

    const storage = new DirectoryStorage({ base });
    const loaded: Record<string, string[]> = {};
    const warnings: unknown[] = [];
    const logger = {
      debug() {},
      info() {},
      warn: (_m: string, f?: Record<string, unknown>) => warnings.push(f),
      error() {},
      child() {
        return logger;
      },
    };
    const started = Date.now();
    const result = await extractRange(
      {
        storage,
        since: new Date('2024-03-05T00:00:00Z'),
        until: new Date('2024-03-06T00:00:00Z'),
        maxMembers: 5,
        maxTotalBytes: 1024 * 1024,
        logger,
      },
      async (t) => {
        loaded[t.name] = [...t.files.keys()].sort();
      },
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(loaded).toEqual({
      [name('a-good')]: ['config.json', 'job_host_summary.csv'],
      [name('j-good')]: ['job_host_summary.csv'],
    });
    const byFile = Object.fromEntries(result.failures.map((f) => [f.file, f.error]));
    expect(Object.keys(byFile).sort()).toEqual(
      ['b-corrupt', 'c-truncated', 'd-evil', 'e-symlink', 'f-bomb', 'g-absolute', 'h-many', 'i-hardlink'].map(name),
    );
    expect(byFile[name('b-corrupt')]).toMatch(/corrupt gzip|unreadable/);
    expect(byFile[name('c-truncated')]).toMatch(/truncated|unexpected end/i);
    expect(byFile[name('d-evil')]).toMatch(/\.\./);
    expect(byFile[name('e-symlink')]).toMatch(/symlink/);
    expect(byFile[name('f-bomb')]).toMatch(/exceeds the cap of 1048576 bytes/);
    expect(byFile[name('g-absolute')]).toMatch(/absolute/);
    expect(byFile[name('h-many')]).toMatch(/more than 5 members/);
    expect(byFile[name('i-hardlink')]).toMatch(/link/);
    // `error` is the reason alone; the name is in `file`.
    for (const f of result.failures) expect(f.error).not.toContain(f.file);
    expect(warnings).toHaveLength(8);
  });

  it('extractTarball throws an ExtractError and leaves no temp directory behind', async () => {
    const path = join(root, 'evil.tar.gz');
    await packTarball(path, [
      { name: 'job_host_summary.csv', content: JHS },
      { name: 'sub/../../evil.csv', content: 'x' },
    ]);
    const parent = await mkdtemp(join(root, 'parent-'));
    const err = await extractTarball(path, { name: 'evil.tar.gz', tempParent: parent }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExtractError);
    expect((err as ExtractError).file).toBe('evil.tar.gz');
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(parent)).toEqual([]);
  });

  it('extracts on a worker thread that stops once idle and starts again for the next tarball', async () => {
    const path = join(root, 'idle.tar.gz');
    await packTarball(path, [{ name: 'job_host_summary.csv', content: JHS }]);
    for (const round of [1, 2]) {
      await using t = await extractTarball(path);
      expect(await readFile(t.file('job_host_summary.csv')!, 'utf8')).toBe(JHS);
      expect(extractionWorkerRunning(), `round ${round}`).toBe(true);
      await new Promise((r) => setTimeout(r, 600));
      expect(extractionWorkerRunning(), `round ${round}, idle`).toBe(false);
    }
  });

  it('keeps the worker thread up while held, idle or not, and stops it once no hold is left', async () => {
    const path = join(root, 'held.tar.gz');
    await packTarball(path, [{ name: 'job_host_summary.csv', content: JHS }]);
    const idle = () => new Promise((r) => setTimeout(r, 600));
    const first = holdExtractionWorker();
    const second = holdExtractionWorker();
    for (const round of [1, 2]) {
      await using t = await extractTarball(path);
      expect(await readFile(t.file('job_host_summary.csv')!, 'utf8')).toBe(JHS);
      await idle();
      expect(extractionWorkerRunning(), `round ${round}, idle and held`).toBe(true);
    }
    first[Symbol.dispose]();
    first[Symbol.dispose](); // a second dispose releases nothing more
    await idle();
    expect(extractionWorkerRunning(), 'one hold left').toBe(true);
    second[Symbol.dispose]();
    expect(extractionWorkerRunning(), 'just released').toBe(true);
    await idle();
    expect(extractionWorkerRunning(), 'released and idle').toBe(false);
  });

  it('stops the worker thread once released and idle, even when held before its first job', async () => {
    const path = join(root, 'held-early.tar.gz');
    await packTarball(path, [{ name: 'job_host_summary.csv', content: JHS }]);
    {
      using _held = holdExtractionWorker();
      expect(extractionWorkerRunning()).toBe(false); // holding starts nothing
      await using t = await extractTarball(path);
      expect(t.records?.get('job_host_summary.csv')).toBe(2);
    }
    await new Promise((r) => setTimeout(r, 600));
    expect(extractionWorkerRunning()).toBe(false);
  });

  it('keeps CRLF and a missing final newline byte for byte', async () => {
    const path = join(root, 'crlf.tar.gz');
    await packTarball(path, [{ name: './job_host_summary.csv', content: JHS }]);
    await using t = await extractTarball(path);
    expect(await readFile(t.file('job_host_summary.csv')!, 'utf8')).toBe(JHS);
    expect(await t.config()).toBeUndefined();
  });
});

describe('what an extraction tells about the tarball it read', () => {
  it('hashes the tarball as it reads it and counts each CSV member\'s records', async () => {
    const path = join(root, 'digest.tar.gz');
    // Quoted fields with newlines, commas and "" escapes; CRLF; no final newline.
    const quoted = 'id,name,note\r\n1,"a\nb","x,""y""\n"\r\n2,b,\r\n3,"""",z';
    await packTarball(path, [
      { name: './job_host_summary.csv', content: JHS },
      { name: './main_jobevent.csv', content: quoted },
      { name: './main_host.csv', content: 'id,name\n' },
      { name: './config.json', content: '{}' },
    ]);
    await using t = await extractTarball(path);
    const bytes = await readFile(path);
    expect(t.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(t.size).toBe(bytes.length);
    expect(Object.fromEntries(t.records ?? [])).toEqual({ 'job_host_summary.csv': 2, 'main_jobevent.csv': 3, 'main_host.csv': 0 });
  });

  it('writes a member of many chunks byte for byte, and one beside a file already there not at all', async () => {
    const path = join(root, 'big.tar.gz');
    // ~9 MiB in lines of varying length: several 1 MiB chunks, each written at its own offset.
    const lines = Array.from({ length: 120_000 }, (_, i) => `${i},${'x'.repeat(i % 97)},"q${i % 7 === 0 ? '\n' : ''}"`);
    const csv = `id,pad,note\n${lines.join('\n')}\n`;
    await packTarball(path, [
      { name: 'job_host_summary.csv', content: csv },
      { name: 'main_host.csv', content: csv.slice(0, 3_000_000) },
    ]);
    await using t = await extractTarball(path);
    const digest = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
    expect(digest(await readFile(t.file('job_host_summary.csv')!))).toBe(digest(csv));
    expect(digest(await readFile(t.file('main_host.csv')!))).toBe(digest(csv.slice(0, 3_000_000)));
    expect(t.records?.get('job_host_summary.csv')).toBe(120_000);

    const { extractFileSync } = await import('../src/extract-file.js');
    const dest = await mkdtemp(join(root, 'taken-'));
    await writeFile(join(dest, 'main_host.csv'), 'mine');
    expect(() => extractFileSync(path, dest)).toThrow(/EEXIST/);
    expect(await readFile(join(dest, 'main_host.csv'), 'utf8')).toBe('mine');
  });

  it('counts records across chunk boundaries, whatever the chunking', async () => {
    const csv = `h\n${Array.from({ length: 500 }, (_, i) => (i % 3 === 0 ? `"q\n${i}"` : `${i}`)).join('\n')}\n`;
    for (const size of [1, 2, 7, 64, csv.length]) {
      const counter = new RecordCounter();
      const chunks: Buffer[] = [];
      for (let i = 0; i < csv.length; i += size) chunks.push(Buffer.from(csv.slice(i, i + size)));
      for (const chunk of chunks) counter.count(chunk);
      expect(counter.records, `chunks of ${size}`).toBe(500);
    }
  });
});

describe('job_host_summary schema variants', () => {
  it('maps every fixture variant onto the 1.2 shape', async () => {
    const { base } = metricsUtilityTarballs();
    const storage = new DirectoryStorage({ base });
    const seen = new Map<string, Record<string, string | null>>();
    await extractRange(
      { storage, since: new Date('2024-03-06Z'), until: new Date('2024-03-20Z'), only: 'job_host_summary.csv' },
      async (t) => {
        const header = (await readFile(t.file('job_host_summary.csv')!, 'utf8')).split('\n')[0]!.replace(/\r$/, '').split(',');
        seen.set(jobHostSummarySchema(header), mapJobHostSummaryHeader(header));
      },
    );
    expect([...seen.keys()].sort()).toEqual(['1.0', '1.1', '1.1-host_id']);
    expect(seen.get('1.0')).toMatchObject({ host_name: 'host_name', host_remote_id: null, ansible_host_variable: null, job_created: null });
    expect(seen.get('1.1')).toMatchObject({ host_remote_id: 'host_remote_id', ansible_host_variable: 'ansible_host_variable', job_created: null });
    expect(seen.get('1.1-host_id')).toMatchObject({ host_remote_id: 'host_id', job_created: null });
    const v12 = mapJobHostSummaryHeader(JOB_HOST_SUMMARY_COLUMNS);
    expect(jobHostSummarySchema(JOB_HOST_SUMMARY_COLUMNS)).toBe('1.2');
    expect(Object.entries(v12).every(([k, v]) => k === v)).toBe(true);
  });
});
