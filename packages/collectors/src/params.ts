import { CollectorError, DEFAULT_MAX_DATA_SIZE, type Logger, silentLogger } from '@tally/core';
import type pg from 'pg';
import type { CollectorParams } from './collector.js';

/** Parameters every SQL collector writing CSV needs. */
export interface CsvTarget {
  db: pg.ClientBase;
  outputDir: string;
  maxFileSize: number;
  logger: Logger;
}

export interface Windowed extends CsvTarget {
  since: Date;
  until: Date;
}

function requireDb(key: string, p: CollectorParams): pg.ClientBase {
  const db = p.db as { query?: unknown } | undefined;
  if (!db || typeof db.query !== 'function') {
    throw new CollectorError(key, 'param "db" is required: a connected node-postgres client (pg.Client or a pool client)');
  }
  return p.db as pg.ClientBase;
}

export function requireDate(key: string, p: CollectorParams, name: 'since' | 'until'): Date {
  const v = p[name];
  if (!(v instanceof Date) || Number.isNaN(v.getTime())) {
    throw new CollectorError(key, `param "${name}" is required: a valid Date (got ${v === undefined ? 'nothing' : String(v)})`);
  }
  return v;
}

export function csvTarget(key: string, p: CollectorParams): CsvTarget {
  const db = requireDb(key, p);
  if (typeof p.outputDir !== 'string' || p.outputDir === '') {
    throw new CollectorError(key, 'param "outputDir" is required: the directory CSV files are written into');
  }
  const maxFileSize = p.maxFileSize ?? DEFAULT_MAX_DATA_SIZE;
  if (!Number.isInteger(maxFileSize) || maxFileSize <= 0) {
    throw new CollectorError(key, `param "maxFileSize" must be a positive whole number of bytes (got ${String(maxFileSize)})`);
  }
  return { db, outputDir: p.outputDir, maxFileSize, logger: p.logger ?? silentLogger };
}

export function windowed(key: string, p: CollectorParams): Windowed {
  const target = csvTarget(key, p);
  const since = requireDate(key, p, 'since');
  const until = requireDate(key, p, 'until');
  if (since.getTime() > until.getTime()) {
    throw new CollectorError(key, `param "since" (${since.toISOString()}) is after "until" (${until.toISOString()})`);
  }
  return { ...target, since, until };
}

export function dbOnly(key: string, p: CollectorParams): { db: pg.ClientBase; logger: Logger } {
  return { db: requireDb(key, p), logger: p.logger ?? silentLogger };
}
