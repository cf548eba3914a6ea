import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  parseSize, parseTarballStamp, pythonDatetime, pythonJson, pythonJsonSize, tarballStamp, tempdir, withTempdir, writeFileAtomic, exitCodeOf, ConfigError, StorageError,
} from '@tally/core';

describe('tempdir', () => {
  it('is removed afterwards, also on error', async () => {
    let seen = '';
    await expect(withTempdir('job', async (p) => { seen = p; expect(existsSync(p)).toBe(true); throw new Error('x'); })).rejects.toThrow('x');
    expect(seen).toMatch(/job-\d{4}-\d{2}-\d{2}-\d{6}\+0000-/);
    expect(existsSync(seen)).toBe(false);
    let path = '';
    {
      await using dir = await tempdir('scoped');
      path = dir.path;
      expect(existsSync(path)).toBe(true);
    }
    expect(existsSync(path)).toBe(false);
  });
});

describe('writeFileAtomic', () => {
  it('writes strings and streams and leaves no temp files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-atomic-'));
    await writeFileAtomic(join(dir, 'a/b.txt'), 'hello');
    await writeFileAtomic(join(dir, 'a/c.txt'), Readable.from([Buffer.from('str'), Buffer.from('eam')]));
    expect(readFileSync(join(dir, 'a/b.txt'), 'utf8')).toBe('hello');
    expect(readFileSync(join(dir, 'a/c.txt'), 'utf8')).toBe('stream');
    expect(readdirSync(join(dir, 'a')).sort()).toEqual(['b.txt', 'c.txt']);
  });
  it('a failing stream leaves neither the target nor a temp file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-atomic-'));
    const bad = new Readable({ read() { this.destroy(new Error('source broke')); } });
    await expect(writeFileAtomic(join(dir, 'x.bin'), bad)).rejects.toThrow('source broke');
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('formats', () => {
  it('parseSize accepts plain bytes and K/M/G forms and rejects others', () => {
    expect(parseSize('100M')).toBe(100 * 1048576);
    expect(parseSize('1.5G')).toBe(1.5 * 1024 ** 3);
    expect(parseSize('512KiB')).toBe(512 * 1024);
    expect(parseSize('2048')).toBe(2048);
    expect(() => parseSize('lots', '--max-size')).toThrow(/--max-size: "lots" is not a size/);
    expect(() => parseSize('0')).toThrow(ConfigError);
  });
  it('tarball stamps round-trip and offsets are honoured', () => {
    const t = new Date('2024-03-11T07:59:01Z');
    expect(tarballStamp(t)).toBe('2024-03-11-075901+0000');
    expect(parseTarballStamp(`uuid-${tarballStamp(t)}-2024-03-12-000000+0000-0.tar.gz`)).toEqual(t);
    expect(parseTarballStamp('x-2024-03-11-095901+0200-0')).toEqual(t);
    expect(parseTarballStamp('no stamp here')).toBeUndefined();
  });
  it('pythonDatetime matches str(datetime)', () => {
    expect(pythonDatetime(new Date('2024-03-06T00:00:00Z'))).toBe('2024-03-06 00:00:00+00:00');
    expect(pythonDatetime(new Date('2024-03-11T07:59:01.458Z'), 458923)).toBe('2024-03-11 07:59:01.458923+00:00');
  });
  it('pythonJson matches json.dumps defaults', () => {
    expect(pythonJson({ 'job_host_summary.csv': '1.0', 'config.json': '1.0' })).toBe('{"job_host_summary.csv": "1.0", "config.json": "1.0"}');
    expect(pythonJson({ foo: 5, bar: 'baz', l: [1, 2.5, null, true], f: 1.0 })).toBe('{"foo": 5, "bar": "baz", "l": [1, 2.5, null, true], "f": 1}');
    expect(pythonJson('café ✓')).toBe('"caf\\u00e9 \\u2713"');
    expect(pythonJsonSize(['é'])).toBe(10);
  });
  it('error classes map to exit codes', () => {
    expect(exitCodeOf(new ConfigError('x'))).toBe(2);
    expect(exitCodeOf(new StorageError('s3', 'x'))).toBe(1);
    expect(new StorageError('s3', 'upload failed').message).toBe('storage s3: upload failed');
    expect(exitCodeOf(new Error('x'))).toBe(1);
  });
});
