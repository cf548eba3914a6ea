import type { Logger } from '@tally/core';
import type { ReadProgress } from '@tally/dataframes';
import type { OutStream } from './io.js';

/** What a long command reports as it goes; the CLI shows it live on a TTY and logs it as JSON otherwise. */
export interface Progress {
  collectorStarted(key: string, slice?: { since?: Date; until?: Date }): void;
  collectorFinished(key: string, info: { rows?: number; bytes?: number; files?: number; slice?: { since?: Date; until?: Date } }): void;
  collectorFailed(key: string, error: string): void;
  tarballWritten(name: string, bytes?: number): void;
  tarballShipped(name: string, bytes?: number): void;
  note(message: string, fields?: Record<string, unknown>): void;
  /** Totals so far. */
  readonly totals: ProgressTotals;
}

export interface ProgressTotals {
  collectors: number;
  failed: number;
  rows: number;
  tarballsWritten: number;
  tarballsShipped: number;
  bytesWritten: number;
  bytesShipped: number;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

const day = (d?: Date) => (d ? d.toISOString().slice(0, 10) : '');
const span = (s?: { since?: Date; until?: Date }) => {
  if (!s?.since || !s.until) return '';
  const a = day(s.since);
  const b = day(new Date(s.until.getTime() - 1));
  return a === b ? ` ${a}` : ` ${a}…${b}`;
};

function newTotals(): ProgressTotals {
  return { collectors: 0, failed: 0, rows: 0, tarballsWritten: 0, tarballsShipped: 0, bytesWritten: 0, bytesShipped: 0 };
}

/** Human progress lines on a terminal: one per collector slice and per tarball, with running totals. */
export function ttyProgress(stream: OutStream): Progress {
  const totals = newTotals();
  const line = (s: string) => stream.write(`${s}\n`);
  return {
    totals,
    collectorStarted(key, slice) {
      stream.write(`\x1b[2K  … ${key}${span(slice)}\r`);
    },
    collectorFinished(key, info) {
      totals.collectors++;
      totals.rows += info.rows ?? 0;
      const parts = [info.rows !== undefined ? `${info.rows.toLocaleString('en-US')} rows` : '', info.bytes !== undefined ? formatBytes(info.bytes) : '']
        .filter(Boolean)
        .join(', ');
      line(`\x1b[2K  ✓ ${key}${span(info.slice)}${parts ? `  ${parts}` : ''}`);
    },
    collectorFailed(key, error) {
      totals.failed++;
      line(`\x1b[2K  ✗ ${key}  ${error}`);
    },
    tarballWritten(name, bytes) {
      totals.tarballsWritten++;
      totals.bytesWritten += bytes ?? 0;
      line(`  ▣ wrote ${name}${bytes !== undefined ? ` (${formatBytes(bytes)})` : ''}`);
    },
    tarballShipped(name, bytes) {
      totals.tarballsShipped++;
      totals.bytesShipped += bytes ?? 0;
      line(`  ↑ shipped ${name}${bytes !== undefined ? ` (${formatBytes(bytes)})` : ''}  [${totals.tarballsShipped} shipped, ${formatBytes(totals.bytesShipped)}]`);
    },
    note(message) {
      line(message);
    },
  };
}

/** Structured JSON log lines (core logger) for cron and containers. */
export function logProgress(logger: Logger): Progress {
  const totals = newTotals();
  const slice = (s?: { since?: Date; until?: Date }) => (s?.since && s.until ? { since: s.since.toISOString(), until: s.until.toISOString() } : {});
  return {
    totals,
    collectorStarted(key, s) {
      logger.debug('collector started', { collector: key, ...slice(s) });
    },
    collectorFinished(key, info) {
      totals.collectors++;
      totals.rows += info.rows ?? 0;
      logger.info('collector finished', { collector: key, rows: info.rows, bytes: info.bytes, files: info.files, ...slice(info.slice) });
    },
    collectorFailed(key, error) {
      totals.failed++;
      logger.error('collector failed', { collector: key, error });
    },
    tarballWritten(name, bytes) {
      totals.tarballsWritten++;
      totals.bytesWritten += bytes ?? 0;
      logger.info('tarball written', { tarball: name, bytes });
    },
    tarballShipped(name, bytes) {
      totals.tarballsShipped++;
      totals.bytesShipped += bytes ?? 0;
      logger.info('tarball shipped', { tarball: name, bytes });
    },
    note(message, fields) {
      logger.info(message, fields);
    },
  };
}

/** Where `rollup` or `report` stands, shown as it goes; `done()` ends the live line. */
export interface ReadProgressSink {
  update(p: ReadProgress): void;
  /** Clear the live line (before a permanent line, e.g. a warning, and at the end). */
  clear(): void;
}

function readLine(command: string, p: ReadProgress): string {
  const parts = [`${command}: ${p.phase}${p.date ? ` ${p.date}` : ''}`];
  if (p.days) parts.push(`days ${p.days.done}/${p.days.total}`);
  if (p.tarballs !== undefined) parts.push(`${p.tarballs.toLocaleString('en-US')} tarball(s)`);
  if (p.rows !== undefined) parts.push(`${p.rows.toLocaleString('en-US')} rows`);
  return parts.join('  ');
}

/** One live line on a terminal, redrawn at each update. */
export function ttyReadProgress(stream: OutStream, command: string): ReadProgressSink {
  let shown = false;
  return {
    update(p) {
      shown = true;
      stream.write(`\x1b[2K  … ${readLine(command, p)}\r`);
    },
    clear() {
      if (shown) stream.write('\x1b[2K\r');
      shown = false;
    },
  };
}

/** JSON log lines for cron: one per phase (info), every update at debug. */
export function logReadProgress(logger: Logger): ReadProgressSink {
  let phase: string | undefined;
  return {
    update(p) {
      const fields = { phase: p.phase, ...(p.date ? { date: p.date } : {}), ...(p.days ? { days: p.days.done, of: p.days.total } : {}), tarballs: p.tarballs, rows: p.rows };
      if (p.phase !== phase) logger.info('progress', fields);
      else logger.debug('progress', fields);
      phase = p.phase;
    },
    clear() {},
  };
}

/**
 * A logger for a command showing live progress on a terminal: the library's info and debug lines
 * give way to the progress line; warnings and errors clear it and are printed as they come.
 */
export function besideProgress(logger: Logger, progress: ReadProgressSink): Logger {
  const wrap = (l: Logger): Logger => ({
    debug() {},
    info() {},
    warn(msg, fields) {
      progress.clear();
      l.warn(msg, fields);
    },
    error(msg, fields) {
      progress.clear();
      l.error(msg, fields);
    },
    child: (fields) => wrap(l.child(fields)),
  });
  return wrap(logger);
}
