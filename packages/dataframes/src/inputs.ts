import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Store } from '@tally/storage';

/** A stored object as a listing shows it: enough to tell whether it changed without reading it. */
export interface ListedObject {
  /** Storage name. */
  name: string;
  size: number;
  /** Modification time (ms since the epoch) where the store has one (directory). */
  mtimeMs?: number | undefined;
  /** The store's entity tag where it has one. */
  etag?: string | undefined;
}

/** A stored object read in full: its listing plus the SHA-256 of its bytes. */
export interface HashedObject extends ListedObject {
  sha256: string;
}

/** What a store may offer to describe an object without a download (optional: checked once, here). */
interface Stats {
  stat(name: string): Promise<{ size: number; mtimeMs?: number; etag?: string }>;
}
const hasStat = (s: Store): s is Store & Stats => typeof (s as Partial<Stats>).stat === 'function';

/** Size (and modification time or ETag where the store has them) of `name`. */
export async function listObject(storage: Store, name: string): Promise<ListedObject> {
  if (hasStat(storage)) {
    const s = await storage.stat(name);
    return { name, size: s.size, mtimeMs: s.mtimeMs, etag: s.etag };
  }
  const local = await storage.get(name);
  try {
    const s = await stat(local.path);
    // A copy's time says nothing about the stored object: only a directory hands out the object itself.
    return { name, size: s.size, ...(storage.backend === 'directory' ? { mtimeMs: Math.trunc(s.mtimeMs) } : {}) };
  } finally {
    await local.release();
  }
}

/** SHA-256 (hex) of a local file's bytes. */
export async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** `listObject` plus the SHA-256 of the bytes (one read of the object). */
export async function hashObject(storage: Store, name: string): Promise<HashedObject> {
  const listed = await listObject(storage, name);
  const local = await storage.get(name);
  try {
    return { ...listed, sha256: await hashFile(local.path) };
  } finally {
    await local.release();
  }
}

/**
 * Do two listings name the same objects with the same sizes (and the same modification time or
 * ETag, where both sides have one)? Order does not matter.
 */
export function sameListing(recorded: readonly ListedObject[], now: readonly ListedObject[]): boolean {
  if (recorded.length !== now.length) return false;
  const byName = new Map(now.map((o) => [o.name, o]));
  return recorded.every((r) => {
    const o = byName.get(r.name);
    if (!o || o.size !== r.size) return false;
    if (r.etag !== undefined && o.etag !== undefined && r.etag !== o.etag) return false;
    if (r.mtimeMs !== undefined && o.mtimeMs !== undefined && r.mtimeMs !== o.mtimeMs) return false;
    return true;
  });
}

/**
 * Where a long read stands (`rollup`, `periodUsage`): a CLI shows it live on a terminal and logs
 * it otherwise. Counts are totals so far.
 */
export interface ReadProgress {
  /** `plan`: listing; `rollups`: reading rollups; `extract`: reading tarballs; `aggregate`: DuckDB grouping; `write`: writing output. */
  phase: 'plan' | 'rollups' | 'extract' | 'aggregate' | 'write';
  /** The period being read (`YYYY-MM-DD` or `YYYY-MM`), when one at a time. */
  date?: string | undefined;
  /** Days (rollup: periods) done, of the total. */
  days?: { done: number; total: number } | undefined;
  /** Tarballs read, or being read. */
  tarballs?: number | undefined;
  /** Rows read (rollup: grouped rows written). */
  rows?: number | undefined;
}
