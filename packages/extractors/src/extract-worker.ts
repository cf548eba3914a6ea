/**
 * Worker thread entry: runs `extractFileSync` jobs posted by extract-in-worker.ts, one after the
 * other (each is synchronous; the pool has one such thread per core).
 *
 * Why a worker: the extraction is CPU work (inflate, SHA-256, the member writes), and on the main
 * thread of a report or a rollup it would stall DuckDB's callbacks and everything else; on a
 * thread of its own with a small heap it runs beside them.
 */
import { parentPort } from 'node:worker_threads';
import { type Extracted, extractFileSync, type FileLimits } from './extract-file.js';

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
  let reply: ExtractReply;
  try {
    reply = { id: job.id, extracted: extractFileSync(job.path, job.destDir, job.limits) };
  } catch (err) {
    reply = { id: job.id, error: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(reply);
});
