import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError, fileLock } from '@tally/core';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'tally-file-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const core = pathToFileURL(fileURLToPath(new URL('../dist/index.js', import.meta.url))).href;

/** A separate process that tries the lock, says `got` or `busy`, and holds it until its stdin closes (or it is killed). */
function contender(stem: string) {
  const code = `const { fileLock } = await import(${JSON.stringify(core)});
    const held = await fileLock(${JSON.stringify(stem)}).acquire('k');
    process.stdout.write(held ? 'got\\n' : 'busy\\n');
    process.stdin.resume();
    await new Promise((r) => process.stdin.on('end', r));
    await held?.release();`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  const said = new Promise<string>((resolve) => child.stdout.once('data', (b: Buffer) => resolve(b.toString().trim())));
  return { child, said, exited: once(child, 'exit') };
}

describe('fileLock', () => {
  it('lets exactly one of several processes in at a time, and the next one after release', async () => {
    const stem = join(dir, 'race', 'state.json');
    const runs = Array.from({ length: 4 }, () => contender(stem));
    const said = await Promise.all(runs.map((r) => r.said));
    expect(said.filter((s) => s === 'got')).toHaveLength(1);
    expect(said.filter((s) => s === 'busy')).toHaveLength(3);
    for (const r of runs) r.child.stdin!.end();
    await Promise.all(runs.map((r) => r.exited));
    expect(existsSync(`${stem}.k.lock`)).toBe(false);
    const held = await fileLock(stem).acquire('k');
    expect(held).toBeDefined();
    await held!.release();
  });

  it('takes over the lock of a process that was killed', async () => {
    const stem = join(dir, 'killed', 'state.json');
    const holder = contender(stem);
    expect(await holder.said).toBe('got');
    expect(await fileLock(stem).acquire('k')).toBeUndefined();
    holder.child.kill('SIGKILL');
    await holder.exited;
    expect(existsSync(`${stem}.k.lock`)).toBe(true);
    const held = await fileLock(stem).acquire('k');
    expect(held).toBeDefined();
    expect((JSON.parse(readFileSync(`${stem}.k.lock`, 'utf8')) as { pid: number }).pid).toBe(process.pid);
    await held!.release();
  });

  it('judges a holder by its process start too, so a reused pid does not keep the lock; another host always keeps it', async () => {
    const stem = join(dir, 'reused', 'state.json');
    const path = `${stem}.k.lock`;
    const first = await fileLock(stem).acquire('k');
    const mine = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    await first!.release();
    // The parent process is alive; with its real start time it holds the lock, with another one it is a former process.
    const parentStart = readFileSync(`/proc/${process.ppid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19];
    writeFileSync(path, JSON.stringify({ ...mine, pid: process.ppid, start: parentStart, token: 'live' }));
    expect(await fileLock(stem).acquire('k')).toBeUndefined();
    writeFileSync(path, JSON.stringify({ ...mine, pid: process.ppid, start: '1', token: 'reused' }));
    const taken = await fileLock(stem).acquire('k');
    expect(taken).toBeDefined();
    await taken!.release();
    writeFileSync(path, JSON.stringify({ ...mine, host: `not-${hostname()}`, pid: 2 ** 22 + 1, token: 'remote' }));
    expect(await fileLock(stem).acquire('k')).toBeUndefined();
    expect(fileLock(stem).describe('k')).toBe(`lock file ${path}`);
  });

  it('refuses a key that is not a plain name', () => {
    expect(() => fileLock(join(dir, 's.json')).describe('../x')).toThrow(ConfigError);
  });
});
