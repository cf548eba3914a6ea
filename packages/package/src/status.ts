import { pythonDatetime } from '@tally/core';

/** One row of `data_collection_status.csv`. */
export interface StatusEntry {
  /** Member file name, `{key}.{format}`. */
  fileName: string;
  status: 'ok' | 'failed';
  startedAt?: Date;
  finishedAt?: Date;
  since?: Date;
  until?: Date;
}

export const STATUS_HEADER = ['collection_start_timestamp', 'since', 'until', 'file_name', 'status', 'elapsed'] as const;

/** Python csv QUOTE_MINIMAL: quote only fields holding the delimiter, a quote or a line break. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

const stamp = (d: Date | undefined) => (d ? pythonDatetime(d) : '');

/**
 * Whole seconds between start and finish; 0 when unknown. (The reference took
 * only the seconds component of the delta, so runs over a day wrapped; we do not.)
 */
export function elapsedSeconds(startedAt?: Date, finishedAt?: Date): number {
  if (!startedAt || !finishedAt) return 0;
  return Math.max(0, Math.floor((finishedAt.getTime() - startedAt.getTime()) / 1000));
}

/** `data_collection_status.csv` as Python's csv module writes it: header row, CRLF line ends. */
export function statusCsv(entries: readonly StatusEntry[]): string {
  const lines = [STATUS_HEADER.join(',')];
  for (const e of entries) {
    lines.push(
      [stamp(e.startedAt), stamp(e.since), stamp(e.until), e.fileName, e.status, String(elapsedSeconds(e.startedAt, e.finishedAt))]
        .map(csvField)
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}
