/**
 * Worker thread entry: runs `extractFile` jobs posted by extract-in-worker.ts, several at a time.
 *
 * Why a worker: inflating a month of tarballs churns through ~1.3 GB of 1 MiB output buffers,
 * and V8 answers that external-memory pressure with a full GC every few dozen MB. On the main
 * thread of a report (DuckDB, exceljs, zod loaded: a 25+ MB heap) those GCs cost ~1.3 CPU-s
 * and ~1 s of wall time per month; in this thread's small heap they are nearly free.
 */
import { parentPort } from 'node:worker_threads';
import { type Extracted, extractFile, type FileLimits } from './extract-file.js';

export interface ExtractJob {
  id: number;
  path: string;
  destDir: string;
  limits: FileLimits;
}

export type ExtractReply = { id: number; extracted: Extracted } | { id: number; error: string };

const port = parentPort;
if (!port) throw new Error('extract-worker.ts must run in a worker thread');
port.on('message', (job: ExtractJob) => {
  extractFile(job.path, job.destDir, job.limits).then(
    (extracted) => port.postMessage({ id: job.id, extracted } satisfies ExtractReply),
    (err: unknown) => port.postMessage({ id: job.id, error: err instanceof Error ? err.message : String(err) } satisfies ExtractReply),
  );
});
