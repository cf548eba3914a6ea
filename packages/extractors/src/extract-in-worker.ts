import { Worker } from 'node:worker_threads';
import type { ExtractJob, ExtractReply } from './extract-worker.js';
import type { Extracted, FileLimits } from './extract-file.js';

interface Pending {
  resolve(extracted: Extracted): void;
  reject(err: Error): void;
}

/**
 * One lazily started worker thread shared by every extraction of the process. It keeps the
 * process alive only while jobs are pending, and is stopped once idle for IDLE_MS and not held
 * (see `holdExtractionWorker`): its heap would otherwise keep the last inflate buffers (~0.1 GB)
 * while a report aggregates. If it dies, pending jobs fail and the next job starts a new one.
 */
let worker: Worker | undefined;
const pending = new Map<number, Pending>();
let nextId = 0;
let idle: NodeJS.Timeout | undefined;
let holds = 0;
const IDLE_MS = 250;

/** Stop `w` after IDLE_MS unless a job or a hold comes first. */
function stopWhenIdle(w: Worker): void {
  clearTimeout(idle);
  if (pending.size > 0 || holds > 0) return;
  idle = setTimeout(() => {
    if (worker === w && pending.size === 0 && holds === 0) {
      worker = undefined;
      void w.terminate();
    }
  }, IDLE_MS);
  idle.unref();
}

function start(): Worker {
  const w = import.meta.url.endsWith('.ts')
    ? // Under the test runner this module is TypeScript source: the worker registers tsx first.
      new Worker(
        `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./extract-worker.ts', import.meta.url).href)}); })`,
        { eval: true },
      )
    : new Worker(new URL('./extract-worker.js', import.meta.url));
  w.on('message', (reply: ExtractReply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    if (pending.size === 0) {
      w.unref();
      stopWhenIdle(w);
    }
    if ('error' in reply) p.reject(new Error(reply.error));
    else p.resolve(reply.extracted);
  });
  const fail = (err: Error) => {
    if (worker !== w) return; // stopped when idle, or already replaced
    worker = undefined;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`extraction worker exited (code ${code})`)));
  return w;
}

/** `extractFile` on the shared worker thread; rejects with the worker's plain error message. */
export function extractInWorker(path: string, destDir: string, limits: FileLimits): Promise<Extracted> {
  clearTimeout(idle);
  worker ??= start();
  const w = worker;
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    w.ref();
    w.postMessage({ id, path, destDir, limits } satisfies ExtractJob);
  });
}

/**
 * Keep the extraction worker up until the handle is disposed, for a caller that extracts again
 * soon: a day rollup extracts once per day with ~0.5 s of DuckDB work in between, and a worker
 * started anew for each day (thread, module loading, a fresh heap) doubled the extraction's CPU.
 * A held worker still lets the process exit; once nothing holds it, it stops when idle as before.
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
      if (worker) stopWhenIdle(worker);
    },
  };
}

/** Is the worker thread up (for tests: it stops once idle and not held)? */
export function extractionWorkerRunning(): boolean {
  return worker !== undefined;
}
