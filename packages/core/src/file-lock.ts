import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { ConfigError, errorMessage, TallyError } from './errors.js';
import type { ClusterLock, HeldLock } from './lock.js';

/** Who holds a lock file: enough to tell, on this host, whether that process still runs. */
interface Holder {
  pid: number;
  host: string;
  /** The process's start time in clock ticks since boot (Linux), so a reused pid is not mistaken for the holder. */
  start?: string;
  boot?: string;
  token: string;
  at: string;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat; the command name (field 2) may contain spaces, so count from its closing paren. */
function processStart(pid: number): string | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

const BOOT = readText('/proc/sys/kernel/random/boot_id');
const SELF_START = processStart(process.pid);
/** Tokens of the lock files this process holds: a file naming our pid but not one of these is a former process's. */
const heldHere = new Set<string>();

function running(h: Holder): boolean {
  if (h.boot && BOOT && h.boot !== BOOT) return false;
  if (h.pid === process.pid) return heldHere.has(h.token);
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    if ((err as { code?: string }).code === 'ESRCH') return false;
  }
  const start = processStart(h.pid);
  return !(h.start && start && h.start !== start);
}

function parseHolder(text: string): Holder | undefined {
  try {
    const h = JSON.parse(text) as Holder;
    return typeof h.pid === 'number' && typeof h.host === 'string' && typeof h.token === 'string' ? h : undefined;
  } catch {
    return undefined;
  }
}

async function readHolder(path: string): Promise<Holder | 'missing' | undefined> {
  try {
    return parseHolder(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return 'missing';
    throw err;
  }
}

/** Create `path` holding `h`, atomically and only if it does not exist (a hard link fails with EEXIST). */
async function create(path: string, h: Holder): Promise<boolean> {
  const tmp = `${path}.${h.token}.tmp`;
  await writeFile(tmp, `${JSON.stringify(h)}\n`, { mode: 0o600 });
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === 'EEXIST') return false;
    throw err;
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Move a dead holder's file aside. If another process broke it first and already
 * holds a fresh file, that one was moved instead: it is put back and we lose.
 */
async function breakStale(path: string, stale: Holder, token: string): Promise<boolean> {
  const aside = `${path}.${token}.stale`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return true;
    throw err;
  }
  const moved = await readHolder(aside);
  if (moved !== 'missing' && moved?.token !== stale.token) {
    await link(aside, path).catch(() => {});
    await rm(aside, { force: true });
    return false;
  }
  await rm(aside, { force: true });
  return true;
}

/** A lock file that cannot be written, as one line naming it. */
async function writable<T>(path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw err;
    throw new TallyError(`cannot create lock file ${path} (${errorMessage(err)}); this user must be able to write its directory`, { cause: err });
  }
}

async function acquireFile(path: string): Promise<HeldLock | undefined> {
  return writable(path, () => acquireWritable(path));
}

async function acquireWritable(path: string): Promise<HeldLock | undefined> {
  await mkdir(dirname(path), { recursive: true });
  const me: Holder = { pid: process.pid, host: hostname(), token: randomBytes(8).toString('hex'), at: new Date().toISOString() };
  if (SELF_START) me.start = SELF_START;
  if (BOOT) me.boot = BOOT;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await create(path, me)) {
      heldHere.add(me.token);
      let released = false;
      const release = async () => {
        if (released) return;
        released = true;
        heldHere.delete(me.token);
        const now = await readHolder(path);
        if (now !== 'missing' && now?.token === me.token) await rm(path, { force: true });
      };
      return { release, [Symbol.asyncDispose]: release };
    }
    const holder = await readHolder(path);
    if (holder === 'missing') continue;
    // Unreadable (being written) or held by another host: only the holder can tell, so it stays held.
    if (!holder || holder.host !== me.host || running(holder)) return undefined;
    if (!(await breakStale(path, holder, me.token))) return undefined;
  }
  return undefined;
}

/**
 * Exclusive lock files next to `stem`: key `k` is held by the file `{stem}.{k}.lock`,
 * which names the holding process. A file left by a process that no longer runs on
 * this host is taken over. One host only: a process on another host sharing the
 * directory (NFS) is never judged dead, and the lock is not a network lock.
 */
export function fileLock(stem: string): ClusterLock {
  if (!stem) throw new ConfigError('lock file path is empty', { field: 'stateFile' });
  const pathOf = (key: string) => {
    if (!/^[A-Za-z0-9_.-]+$/.test(key)) throw new ConfigError(`lock key "${key}" is not a plain name (letters, digits, _ . -)`, { field: 'lock' });
    return `${stem}.${key}.lock`;
  };
  return {
    describe: (key) => `lock file ${pathOf(key)}`,
    acquire: (key) => acquireFile(pathOf(key)),
  };
}
