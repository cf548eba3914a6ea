import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ExtractJob, ExtractReply } from './extract-worker.js';
import type { Extracted, FileLimits } from './extract-file.js';

interface Pending {
  resolve(extracted: Extracted): void;
  reject(err: Error): void;
}

/** One worker thread of the pool and the jobs posted to it, not yet answered. */
interface PoolWorker {
  worker: Worker;
  pending: Map<number, Pending>;
}

/**
 * Lazily started worker threads shared by every extraction of the process, at most one per core
 * (up to two): each runs its jobs one after the other, synchronously. They keep the process alive
 * only while jobs are pending, and are stopped once all are idle for IDLE_MS and nothing holds
 * them (see `holdExtractionWorker`). If one dies, its pending jobs fail and it is replaced by the
 * next job that needs it.
 */
const pool: PoolWorker[] = [];
const POOL_SIZE = Math.max(1, Math.min(2, availableParallelism()));
let nextId = 0;
let idle: NodeJS.Timeout | undefined;
let holds = 0;
const IDLE_MS = 250;

const busy = () => pool.some((p) => p.pending.size > 0);

/** Stop the pool after IDLE_MS unless a job or a hold comes first. */
function stopWhenIdle(): void {
  clearTimeout(idle);
  if (busy() || holds > 0) return;
  idle = setTimeout(() => {
    if (busy() || holds > 0) return;
    for (const p of pool.splice(0)) void p.worker.terminate();
  }, IDLE_MS);
  idle.unref();
}

function start(): PoolWorker {
  const worker = import.meta.url.endsWith('.ts')
    ? // Under the test runner this module is TypeScript source: the worker registers tsx first.
      new Worker(
        `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./extract-worker.ts', import.meta.url).href)}); })`,
        { eval: true },
      )
    : new Worker(new URL('./extract-worker.js', import.meta.url));
  const self: PoolWorker = { worker, pending: new Map() };
  worker.on('message', (reply: ExtractReply) => {
    const p = self.pending.get(reply.id);
    if (!p) return;
    self.pending.delete(reply.id);
    if (self.pending.size === 0) {
      worker.unref();
      stopWhenIdle();
    }
    if ('error' in reply) p.reject(new Error(reply.error));
    else p.resolve(reply.extracted);
  });
  const fail = (err: Error) => {
    const at = pool.indexOf(self);
    if (at < 0) return; // stopped when idle, or already replaced
    pool.splice(at, 1);
    for (const p of self.pending.values()) p.reject(err);
    self.pending.clear();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`extraction worker exited (code ${code})`)));
  pool.push(self);
  return self;
}

/** An idle worker, else a new one while the pool has room, else the one with the fewest jobs. */
function pick(): PoolWorker {
  const free = pool.find((p) => p.pending.size === 0);
  if (free) return free;
  if (pool.length < POOL_SIZE) return start();
  return pool.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
}

/** `extractFileSync` on a worker thread of the pool; rejects with the worker's plain error message. */
export function extractInWorker(path: string, destDir: string, limits: FileLimits): Promise<Extracted> {
  clearTimeout(idle);
  const p = pick();
  const id = nextId++;
  return new Promise((resolve, reject) => {
    p.pending.set(id, { resolve, reject });
    p.worker.ref();
    p.worker.postMessage({ id, path, destDir, limits } satisfies ExtractJob);
  });
}

/**
 * Keep the extraction workers up until the handle is disposed, for a caller that extracts again
 * soon: a day rollup extracts once per day with ~0.5 s of DuckDB work in between, and a worker
 * started anew for each day (thread, module loading, a fresh heap) doubled the extraction's CPU.
 * Held workers still let the process exit; once nothing holds them, they stop when idle as before.
 */
export function holdExtractionWorker(): Disposable {
  holds += 1;
  clearTimeout(idle);
  let held = true;
  return {
    [Symbol.dispose]() {
      if (!held) return;
      held = false;
      holds -= 1;
      if (pool.length > 0) stopWhenIdle();
    },
  };
}

/** Is a worker thread up (for tests: they stop once idle and not held)? */
export function extractionWorkerRunning(): boolean {
  return pool.length > 0;
}
