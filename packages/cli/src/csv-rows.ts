import { createReadStream } from 'node:fs';

const QUOTE = 0x22;
const NEWLINE = 0x0a;

/**
 * Data rows in a CSV file (records after the header), counting newlines outside
 * quoted fields so that multi-line values count once.
 */
export async function countCsvRows(path: string): Promise<number> {
  let records = 0;
  let quoted = false;
  let pending = false;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === QUOTE) quoted = !quoted;
      if (b === NEWLINE && !quoted) {
        records++;
        pending = false;
      } else {
        pending = true;
      }
    }
  }
  if (pending) records++;
  return Math.max(0, records - 1);
}
