import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const NL = 0x0a;
const QUOTE = 0x22;

function write(out: WriteStream, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    out.write(data, (err) => (err ? reject(err) : resolve()));
  });
}
function close(out: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    out.once('error', reject);
    out.end(resolve);
  });
}

/**
 * Split a CSV file bigger than `maxBytes` into `{name}_part{N}.csv` files of at
 * most `maxBytes` bytes each, cutting only between records (a line break outside
 * quotes, so quoted multi-line values stay whole) and starting every part with
 * the header. Streams: memory use does not grow with the file. A single record
 * bigger than the budget gets a part of its own. Returns `[path]` unchanged when
 * it already fits; otherwise the parts (the original is kept).
 */
export async function splitCsvFile(path: string, maxBytes: number, opts: { outDir?: string } = {}): Promise<string[]> {
  if (!(maxBytes > 0)) throw new RangeError(`splitCsvFile: maxBytes must be positive, got ${maxBytes}`);
  if ((await stat(path)).size <= maxBytes) return [path];
  const stem = join(opts.outDir ?? dirname(path), basename(path).replace(/\.csv$/i, ''));
  const parts: string[] = [];
  // The scan is synchronous; bytes queue up as (part, data) segments and are written after each chunk.
  let segments: { part: number; data: Buffer }[] = [];
  let part = -1;
  let out: WriteStream | undefined;
  let outPart = -1;
  let header: Buffer | undefined;
  let partSize = 0;
  let carry: Buffer[] = [];
  let carryLen = 0;
  let inQuote = false;

  const push = (b: Buffer) => {
    if (b.length) segments.push({ part, data: b });
  };
  const rotate = () => {
    part++;
    parts.push(`${stem}_part${part}.csv`);
    partSize = 0;
    if (header) {
      push(header);
      partSize = header.length;
    }
  };
  /** A record of `len` bytes is about to be added: start a new part when it would not fit. */
  const room = (len: number) => {
    if (partSize + len > maxBytes && partSize > (header?.length ?? 0)) rotate();
    partSize += len;
  };
  const drain = async () => {
    const queue = segments;
    segments = [];
    for (let i = 0; i < queue.length; ) {
      const p = queue[i]!.part;
      const run: Buffer[] = [];
      for (; i < queue.length && queue[i]!.part === p; i++) run.push(queue[i]!.data);
      if (p !== outPart) {
        if (out) await close(out);
        out = createWriteStream(parts[p]!, { mode: 0o600 });
        outPart = p;
      }
      await write(out!, run.length === 1 ? run[0]! : Buffer.concat(run));
    }
  };

  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
      let segStart = 0; // first byte of this chunk not yet queued
      let recStart = 0; // first byte of the current record in this chunk
      let i = 0;
      while (i < chunk.length) {
        if (inQuote) {
          const q = chunk.indexOf(QUOTE, i);
          if (q < 0) break;
          inQuote = false;
          i = q + 1;
          continue;
        }
        const nl = chunk.indexOf(NL, i);
        const q = nl < 0 ? chunk.indexOf(QUOTE, i) : chunk.subarray(i, nl).indexOf(QUOTE);
        if (q >= 0) {
          inQuote = true;
          i = (nl < 0 ? q : i + q) + 1;
          continue;
        }
        if (nl < 0) break;
        const end = nl + 1;
        const len = carryLen + (end - recStart);
        if (!header) {
          header = Buffer.concat([...carry, chunk.subarray(recStart, end)]);
          carry = [];
          carryLen = 0;
          rotate();
          segStart = end;
        } else {
          // Complete records of this chunk before this one stay in the current part.
          if (partSize + len > maxBytes && partSize > header.length) {
            push(chunk.subarray(segStart, recStart));
            segStart = recStart;
          }
          room(len);
          for (const c of carry) push(c);
          carry = [];
          carryLen = 0;
        }
        recStart = end;
        i = end;
      }
      push(chunk.subarray(segStart, recStart));
      if (recStart < chunk.length) {
        carry.push(chunk.subarray(recStart));
        carryLen += chunk.length - recStart;
      }
      await drain();
    }
    if (carryLen > 0) {
      if (!header) {
        header = Buffer.concat(carry);
        rotate();
      } else {
        room(carryLen);
        for (const c of carry) push(c);
      }
    }
    await drain();
    if (out) await close(out);
  } catch (err) {
    out?.destroy();
    await Promise.all(parts.map((p) => rm(p, { force: true })));
    throw err;
  }
  return parts;
}
