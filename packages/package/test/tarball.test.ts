import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FirstFitPacker, readTarballMembers, tarballName, tarballStorageName, writeTarball, type TarballContents } from '@tally/package';
import { statusCsv } from '../src/status.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-package-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const since = new Date('2024-03-03T00:00:00Z');
const until = new Date('2024-03-04T00:00:00Z');
const started = new Date('2024-03-11T07:59:01.446Z');

async function sample(): Promise<TarballContents> {
  const csv = join(dir, 'jhs.csv');
  await writeFile(csv, 'id,host_name\n1,"a, b"\n2,héllo\n');
  return {
    members: [
      { key: 'job_host_summary', format: 'csv', version: '1.2', source: { file: csv } },
      { key: 'total_workers_vcpu', format: 'json', version: '1.0', source: { json: { cluster_name: 'c', total_workers_vcpu: 4.5, note: 'é' } } },
    ],
    config: { version: '1.0', source: { json: { install_uuid: 'u-1', billing_provider_params: { ship_path: '/x' } } } },
    status: [
      { fileName: 'job_host_summary.csv', status: 'ok', startedAt: started, finishedAt: new Date(started.getTime() + 2500), since, until },
      { fileName: 'total_workers_vcpu.json', status: 'ok', startedAt: started, since, until },
      { fileName: 'main_jobevent.csv', status: 'failed', startedAt: started, since, until },
    ],
  };
}

describe('writeTarball', () => {
  it('writes data members, then config.json, data_collection_status.csv and manifest.json', async () => {
    const path = join(dir, 'a.tar.gz');
    const res = await writeTarball(path, await sample(), { mtime: until });
    const members = await readTarballMembers(path);
    expect(members.map((m) => m.name)).toEqual([
      './job_host_summary.csv',
      './total_workers_vcpu.json',
      './config.json',
      './data_collection_status.csv',
      './manifest.json',
    ]);
    expect(res.members).toEqual(members.map((m) => m.name.slice(2)));
    const byName = Object.fromEntries(members.map((m) => [m.name, m]));
    expect(byName['./job_host_summary.csv']!.data.toString()).toBe('id,host_name\n1,"a, b"\n2,héllo\n');
    // Python json.dumps: ", " / ": " separators, non-ASCII escaped, floats as floats.
    expect(byName['./total_workers_vcpu.json']!.data.toString()).toBe('{"cluster_name": "c", "total_workers_vcpu": 4.5, "note": "\\u00e9"}');
    expect(byName['./manifest.json']!.data.toString()).toBe(
      '{"job_host_summary.csv": "1.2", "total_workers_vcpu.json": "1.0", "config.json": "1.0", "data_collection_status.csv": "1.0"}',
    );
    expect(byName['./data_collection_status.csv']!.data.toString()).toBe(
      'collection_start_timestamp,since,until,file_name,status,elapsed\r\n' +
        '2024-03-11 07:59:01.446000+00:00,2024-03-03 00:00:00+00:00,2024-03-04 00:00:00+00:00,job_host_summary.csv,ok,2\r\n' +
        '2024-03-11 07:59:01.446000+00:00,2024-03-03 00:00:00+00:00,2024-03-04 00:00:00+00:00,total_workers_vcpu.json,ok,0\r\n' +
        '2024-03-11 07:59:01.446000+00:00,2024-03-03 00:00:00+00:00,2024-03-04 00:00:00+00:00,main_jobevent.csv,failed,0\r\n',
    );
    for (const m of members) {
      expect(m.mtime?.getTime()).toBe(until.getTime());
      expect(m.uid).toBe(0);
      expect(m.gid).toBe(0);
    }
    const jhsBytes = Buffer.byteLength('id,host_name\n1,"a, b"\n2,héllo\n');
    expect(res.dataBytes).toBe(jhsBytes + byName['./total_workers_vcpu.json']!.size);
  });

  it('gives identical bytes for identical input, and honours the gzip level', async () => {
    const a = join(dir, 'det-a.tar.gz');
    const b = join(dir, 'det-b.tar.gz');
    await writeTarball(a, await sample(), { mtime: until });
    await new Promise((r) => setTimeout(r, 1100)); // a different wall clock must not change the bytes
    await writeTarball(b, await sample(), { mtime: until });
    const hash = async (p: string) => createHash('sha256').update(await readFile(p)).digest('hex');
    expect(await hash(a)).toBe(await hash(b));

    const big = join(dir, 'repetitive.csv');
    await writeFile(big, `a,b\n${'1,hello world\n'.repeat(20_000)}`);
    const contents: TarballContents = { ...(await sample()), members: [{ key: 'x', format: 'csv', version: '1.0', source: { file: big } }] };
    const l0 = await writeTarball(join(dir, 'l0.tar.gz'), contents, { mtime: until, gzipLevel: 0 });
    const l9 = await writeTarball(join(dir, 'l9.tar.gz'), contents, { mtime: until, gzipLevel: 9 });
    expect(l0.bytes).toBeGreaterThan(280_000);
    expect(l9.bytes).toBeLessThan(5_000);
    await expect(writeTarball(join(dir, 'bad.tar.gz'), contents, { mtime: until, gzipLevel: 11 })).rejects.toThrow(/gzip level/);
  });

  it('refuses two parts of the same key in one tarball and leaves no partial file when a source is missing', async () => {
    const s = await sample();
    await expect(writeTarball(join(dir, 'dup.tar.gz'), { ...s, members: [s.members[0]!, s.members[0]!] }, { mtime: until })).rejects.toThrow(
      /job_host_summary.csv appears twice/,
    );
    const path = join(dir, 'missing.tar.gz');
    await expect(
      writeTarball(path, { ...s, members: [{ key: 'gone', format: 'csv', version: '1', source: { file: join(dir, 'nope.csv') } }] }, { mtime: until }),
    ).rejects.toThrow(/ENOENT/);
    await expect(readFile(path)).rejects.toThrow(/ENOENT/);
  });
});

describe('names and status', () => {
  it('names tarballs by window and index under data/YYYY/MM/DD', () => {
    const name = tarballName('36e809d0-b1ae-4b99-9011-2fa3a3eb196e', new Date('2024-03-11T07:59:01Z'), new Date('2024-03-11T08:07:52Z'), 0);
    expect(name).toBe('36e809d0-b1ae-4b99-9011-2fa3a3eb196e-2024-03-11-075901+0000-2024-03-11-080752+0000-0.tar.gz');
    expect(tarballStorageName(name, new Date('2024-03-11T07:59:01Z'))).toBe(`data/2024/03/11/${name}`);
    expect(() => tarballName('u', since, until, -1)).toThrow(/index/);
  });

  it('writes an empty status file as a header line, quotes like Python csv, and never wraps elapsed at a day', () => {
    expect(statusCsv([])).toBe('collection_start_timestamp,since,until,file_name,status,elapsed\r\n');
    const row = statusCsv([{ fileName: 'a,b.csv', status: 'ok', startedAt: since, finishedAt: new Date(since.getTime() + 90_061_000) }]);
    expect(row.split('\r\n')[1]).toBe('2024-03-03 00:00:00+00:00,,,"a,b.csv",ok,90061');
  });
});

describe('FirstFitPacker', () => {
  const item = (key: string, size: number, group = 'default') => ({ key, size, group });

  it('places parts first-fit, one part of a key per bundle (the reference worked example)', () => {
    const p = new FirstFitPacker<ReturnType<typeof item>>(1000);
    for (const i of [item('big', 800), item('big', 800), item('big', 800), item('c1', 100), item('c2', 200)]) p.add(i);
    const bundles = p.open();
    expect(bundles.map((b) => b.items.map((i) => i.key))).toEqual([['big', 'c1'], ['big', 'c2'], ['big']]);
    expect(bundles.map((b) => b.total)).toEqual([900, 1000, 800]);
  });

  it('keeps shipping groups apart, skips closed bundles and gives an oversized part its own bundle', () => {
    const p = new FirstFitPacker<ReturnType<typeof item>>(1000);
    const first = p.add(item('j', 10));
    const other = p.add(item('k', 10, 'other'));
    expect(other).not.toBe(first);
    const s1 = p.add(item('s', 100));
    expect(s1).toBe(first);
    s1.closed = true;
    const s2 = p.add(item('t', 100));
    expect(s2.seq).toBe(2);
    const huge = p.add(item('h', 5000));
    expect(huge.items).toHaveLength(1);
    expect(p.firstOpen('default')).toBe(s2);
    expect(p.open().map((b) => b.seq)).toEqual([2, 3, 1]);
  });
});
