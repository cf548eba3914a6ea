import { createHash } from 'node:crypto';
import { StorageError, pythonJson, pythonJsonSize } from '@tally/core';

/** Segment refuses messages above 32 KiB; every chunk plus its header must fit. */
export const SEGMENT_MESSAGE_LIMIT = 32 * 1024;

/** Extra `track()` fields sent with every chunk (the reference's `segment_meta`). */
export interface SegmentMeta {
  /** Base of the deterministic per-chunk message ids: sha256 hex of `${messageId}_${i}`. */
  messageId?: string;
  userId?: string;
  timestamp?: Date;
  context?: Record<string, unknown>;
  integrations?: Record<string, unknown>;
}

export interface ChunkInfo {
  chunk_number: number;
  total_chunks: number;
  chunk_size: number;
}

/** `datetime.now(timezone.utc).isoformat()`: always six fraction digits, so the header size is stable. */
export function pythonIsoTimestamp(dt: Date): string {
  const us = String(dt.getUTCMilliseconds() * 1000).padStart(6, '0');
  return `${dt.toISOString().slice(0, 19)}.${us}+00:00`;
}

/** The meta as the Python SDK keyword arguments would spell it (used only to measure the header). */
function pythonMeta(meta: SegmentMeta): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (meta.messageId !== undefined) out.message_id = meta.messageId;
  if (meta.userId !== undefined) out.user_id = meta.userId;
  if (meta.timestamp !== undefined) out.timestamp = pythonIsoTimestamp(meta.timestamp);
  if (meta.context !== undefined) out.context = meta.context;
  if (meta.integrations !== undefined) out.integrations = meta.integrations;
  return out;
}

/**
 * Bytes every chunk's envelope costs: the properties object with an empty `data`
 * and zeroed `chunk_info`, merged with the meta, measured like Python `json.dumps`.
 */
export function headerOverhead(artifactName: string, meta: SegmentMeta = {}, uploadTimestamp = new Date()): number {
  return pythonJsonSize({
    artifact_name: artifactName,
    data: {},
    upload_timestamp: pythonIsoTimestamp(uploadTimestamp),
    chunk_info: { chunk_number: 0, total_chunks: 0, chunk_size: 0 },
    ...pythonMeta(meta),
  });
}

/** Largest chunk (Python JSON bytes) that still fits one Segment message with its header. */
export function maxChunkSize(artifactName: string, meta: SegmentMeta = {}, uploadTimestamp = new Date()): number {
  return SEGMENT_MESSAGE_LIMIT - headerOverhead(artifactName, meta, uploadTimestamp);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/**
 * Split a dict the way metrics-utility does: every dict-valued key becomes its own
 * chunk (never split, may be oversize); list-valued keys are packed greedily so that
 * `{key: items}` stays within `maxSize`; an item too big on its own travels alone;
 * scalar top-level values are dropped; no chunk at all → the whole dict is one chunk.
 */
export function chunkDict(data: unknown, maxSize: number): Record<string, unknown>[] {
  if (!isPlainObject(data)) {
    throw new StorageError('segment', `data must be a dict (a plain object), got ${Array.isArray(data) ? 'an array' : typeof data}`);
  }
  const chunks: Record<string, unknown>[] = [];
  for (const [key, value] of Object.entries(data)) {
    if (value === undefined) continue;
    if (isPlainObject(value)) {
      chunks.push({ [key]: value });
    } else if (Array.isArray(value)) {
      // size({key: [a, b, …]}) = size({key: []}) + Σ size(item) + 2·(n−1) for the ", " separators,
      // so the sizes add up without re-serialising the growing list.
      const base = pythonJsonSize({ [key]: [] });
      let current: unknown[] = [];
      let size = base;
      for (const item of value) {
        const itemSize = Buffer.byteLength(pythonJson(item), 'utf8');
        const next = size + itemSize + (current.length ? 2 : 0);
        if (next > maxSize) {
          if (current.length) {
            chunks.push({ [key]: current });
            current = [item];
            size = base + itemSize;
          } else {
            chunks.push({ [key]: [item] });
          }
        } else {
          current.push(item);
          size = next;
        }
      }
      if (current.length) chunks.push({ [key]: current });
    }
  }
  return chunks.length ? chunks : [data];
}

/** Deterministic message id of chunk `i` (1-based): sha256 hex of `${messageId}_${i}`. */
export function chunkMessageId(messageId: string, i: number): string {
  return createHash('sha256').update(`${messageId}_${i}`).digest('hex');
}
