/**
 * Synchronous gunzip of a file into ONE reused output buffer. Node's zlib streams (and its sync
 * API) hand out a freshly allocated buffer for every output chunk: for a month of tarballs that
 * is ~1.3 GB of new memory, faulted in page by page and collected by V8's external-memory GCs,
 * which cost about as much CPU as the inflate itself. The public API has no way to reuse an
 * output buffer, so this drives the zlib handle of a `Gunzip` the way node's own
 * `zlib.gunzipSync` does (`_handle.writeSync` into `_writeState`); the same native code checks
 * the gzip header, CRC-32 and length, and concatenated members, so errors are node's own
 * (`Z_DATA_ERROR`, `Z_BUF_ERROR` "unexpected end of file" for a truncated file).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { constants, createGunzip } from 'node:zlib';

interface ZlibHandle {
  writeSync(flush: number, input: Buffer, inOff: number, inLen: number, out: Buffer, outOff: number, outLen: number): void;
  onerror: (message: string, errno: number, code: string) => void;
}

const CHUNK = 1024 * 1024;
/** Allocated once per thread: a call runs synchronously to its end (its callbacks never extract). */
let buffers: { input: Buffer; output: Buffer } | undefined;

/** Errors of the inflate, as node's zlib streams make them. */
export class ZlibError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/**
 * Read the gzip file at `path` and inflate it: `input` sees every compressed chunk as read,
 * `output` every inflated one; both are views of buffers reused for the next chunk, so they must
 * be done with the bytes when they return. Throws a `ZlibError`, or what a callback threw.
 */
export function gunzipFileSync(path: string, input: (chunk: Buffer) => void, output: (buf: Buffer, end: number) => void): void {
  const gunzip = createGunzip();
  const { _handle: handle, _writeState: state } = gunzip as unknown as { _handle?: ZlibHandle; _writeState?: Uint32Array };
  if (!handle || typeof handle.writeSync !== 'function' || !(state instanceof Uint32Array)) {
    throw new Error('this Node.js has no zlib handle to inflate into a reused buffer');
  }
  let failed: ZlibError | undefined;
  handle.onerror = (message, _errno, code) => {
    failed = new ZlibError(message, code);
  };
  buffers ??= { input: Buffer.allocUnsafe(CHUNK), output: Buffer.allocUnsafe(CHUNK) };
  const { input: inBuf, output: outBuf } = buffers;
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const n = readSync(fd, inBuf, 0, CHUNK, null);
      if (n > 0) input(inBuf.subarray(0, n));
      // As a stream: every chunk without flushing, then an empty Z_FINISH once the file ends.
      const flush = n === 0 ? constants.Z_FINISH : constants.Z_NO_FLUSH;
      for (let inOff = 0, inLen = n; ; ) {
        handle.writeSync(flush, inBuf, inOff, inLen, outBuf, 0, CHUNK);
        if (failed) throw failed;
        const [outLeft, inLeft] = [state[0]!, state[1]!];
        if (outLeft < CHUNK) output(outBuf, CHUNK - outLeft);
        // Output space left means the input was all taken (or the gzip stream ended).
        if (outLeft !== 0) break;
        inOff += inLen - inLeft;
        inLen = inLeft;
      }
      if (n === 0) return;
    }
  } finally {
    closeSync(fd);
    gunzip.close();
  }
}
