import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StorageError, errorMessage, pythonJson, tempdir } from '@tally/core';
import type { PutSource } from './storage.js';

/**
 * A put source turned into something a backend can send. In-memory sources
 * (dict, buffer) are `data`; a file source is its `path`; a stream source is
 * spooled to a private temp file (its `path`) unless the backend reads it once.
 */
export interface PutBody {
  readonly kind: 'dict' | 'buffer' | 'file' | 'stream';
  /** The dict, when the source was one (stores that keep JSON values store it as is). */
  readonly dict?: unknown;
  /** `application/json` for dicts, else `application/octet-stream`. */
  readonly contentType: string;
  /** The whole body, for dicts (Python `json.dump` text, as metrics-utility writes them) and buffers. */
  readonly data?: Buffer;
  /** A local file holding the body: the source file, or the spool of a stream. */
  readonly path?: string;
  /** Byte length; unknown only for a stream read once. */
  readonly size?: number;
  /** A fresh stream of the body (a stream read once can be opened once). */
  stream(): Readable;
  bytes(): Promise<Buffer>;
  /** Remove the spool, if any. */
  release(): Promise<void>;
}

export interface PutBodyOptions {
  /**
   * Spool a stream source to a temp file so the body can be sent again (retries)
   * and its size is known. Default true; a backend that reads it exactly once
   * (the directory) passes false.
   */
  replayable?: boolean;
}

const none = async () => {};

function inMemory(kind: 'dict' | 'buffer', data: Buffer, extra: { dict?: unknown } = {}): PutBody {
  return {
    kind,
    ...extra,
    contentType: kind === 'dict' ? 'application/json' : 'application/octet-stream',
    data,
    size: data.length,
    stream: () => Readable.from([data]),
    bytes: async () => data,
    release: none,
  };
}

function onDisk(kind: 'file' | 'stream', path: string, size: number, release: () => Promise<void>): PutBody {
  return {
    kind,
    contentType: 'application/octet-stream',
    path,
    size,
    stream: () => createReadStream(path),
    bytes: () => readFile(path),
    release,
  };
}

function readOnce(stream: Readable): PutBody {
  let taken = false;
  const take = () => {
    if (taken) throw new Error('a stream source can be read only once');
    taken = true;
    return stream;
  };
  return {
    kind: 'stream',
    contentType: 'application/octet-stream',
    stream: take,
    bytes: async () => {
      const chunks: Buffer[] = [];
      for await (const c of take()) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
      return Buffer.concat(chunks);
    },
    release: none,
  };
}

/**
 * The one place a put source becomes a body. Failures to read the source are
 * StorageErrors naming the backend, the object and the source.
 */
export async function putBody(backend: string, name: string, source: PutSource, opts: PutBodyOptions = {}): Promise<PutBody> {
  if ('dict' in source) return inMemory('dict', Buffer.from(pythonJson(source.dict), 'utf8'), { dict: source.dict });
  if ('buffer' in source) {
    const b = source.buffer;
    return inMemory('buffer', typeof b === 'string' ? Buffer.from(b, 'utf8') : Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  }
  if ('filename' in source) {
    const s = await stat(source.filename).catch((err: unknown) => {
      throw new StorageError(backend, `put ${name}: ${source.filename} is not a readable file: ${errorMessage(err)}`, { cause: err });
    });
    if (!s.isFile()) throw new StorageError(backend, `put ${name}: ${source.filename} is not a readable file: not a regular file`);
    return onDisk('file', source.filename, s.size, none);
  }
  if ('stream' in source) {
    if (opts.replayable === false) return readOnce(source.stream);
    const dir = await tempdir(`tally-${backend}-put`);
    try {
      const path = join(dir.path, 'body');
      await pipeline(source.stream, createWriteStream(path, { mode: 0o600 }));
      return onDisk('stream', path, (await stat(path)).size, dir.remove);
    } catch (err) {
      await dir.remove();
      throw new StorageError(backend, `put ${name}: reading the source stream failed: ${errorMessage(err)}`, { cause: err });
    }
  }
  throw new StorageError(backend, `put ${name}: expected one of dict, filename, stream or buffer`);
}
