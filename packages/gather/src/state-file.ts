import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CollectorsFile, type CollectorsDocument, errorMessage, TallyError } from '@tally/core';
import type { CollectorStatus, RunOutcome, StateStore } from './state.js';

interface FileEntry {
  watermark?: string;
  lastRunAt?: string;
  lastSuccessAt?: string;
  lastErrorAt?: string;
  lastError?: string;
  consecutiveFailures?: number;
}
type FileShape = CollectorsDocument<FileEntry>;

function entry(s: FileShape, key: string): FileEntry {
  if (!s.collectors[key]) s.collectors[key] = {};
  return s.collectors[key]!;
}

/**
 * State in a local JSON file, for single-machine use. Every change rewrites the
 * file atomically (temp file, fsync, rename), so a crash leaves the old or the
 * new state, never a torn one. Gather's cluster lock serialises writers.
 */
export class JsonFileStateStore implements StateStore {
  readonly kind = 'file';
  readonly path: string;
  private readonly file: CollectorsFile<FileEntry>;

  constructor(path: string) {
    this.file = new CollectorsFile(path, 'state file');
    this.path = path;
  }

  /** The file itself is written at the first change; its directory must be writable now, before anything is gathered. */
  async init(): Promise<void> {
    const dir = dirname(this.path);
    try {
      await mkdir(dir, { recursive: true });
      await access(dir, constants.W_OK);
    } catch (err) {
      throw new TallyError(`cannot write state file ${this.path} (${errorMessage(err)}); this user must be able to write its directory`, { cause: err });
    }
  }

  private async load(): Promise<FileShape> {
    return (await this.file.read()) ?? { version: 1, collectors: {} };
  }

  private update(fn: (s: FileShape) => void): Promise<void> {
    return this.file.update(fn);
  }

  async watermarks(): Promise<Map<string, Date>> {
    const s = await this.load();
    const out = new Map<string, Date>();
    for (const [k, e] of Object.entries(s.collectors)) if (e.watermark) out.set(k, new Date(e.watermark));
    return out;
  }

  advance(marks: ReadonlyMap<string, Date>): Promise<void> {
    if (marks.size === 0) return Promise.resolve();
    return this.update((s) => {
      for (const [k, at] of marks) {
        const e = entry(s, k);
        if (!e.watermark || new Date(e.watermark).getTime() < at.getTime()) e.watermark = at.toISOString();
      }
    });
  }

  recordRun(key: string, outcome: RunOutcome): Promise<void> {
    return this.update((s) => {
      const e = entry(s, key);
      e.lastRunAt = outcome.at.toISOString();
      if (outcome.ok) {
        e.lastSuccessAt = e.lastRunAt;
        e.consecutiveFailures = 0;
      } else {
        e.lastErrorAt = e.lastRunAt;
        e.lastError = outcome.error;
        e.consecutiveFailures = (e.consecutiveFailures ?? 0) + 1;
      }
    });
  }

  async statuses(): Promise<CollectorStatus[]> {
    const s = await this.load();
    return Object.entries(s.collectors).map(([key, e]) => {
      const st: CollectorStatus = { key, consecutiveFailures: e.consecutiveFailures ?? 0 };
      if (e.watermark) st.watermark = new Date(e.watermark);
      if (e.lastRunAt) st.lastRunAt = new Date(e.lastRunAt);
      if (e.lastSuccessAt) st.lastSuccessAt = new Date(e.lastSuccessAt);
      if (e.lastErrorAt) st.lastErrorAt = new Date(e.lastErrorAt);
      if (e.lastError !== undefined) st.lastError = e.lastError;
      return st;
    });
  }
}
