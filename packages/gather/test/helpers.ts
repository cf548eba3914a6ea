import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Collector, CollectorMeta, CollectorParams, CollectorResult } from '@tally/collectors';
import { StorageError, pythonDatetime } from '@tally/core';
import { readTarballMembers } from '@tally/package';
import type { GlobOptions, LocalFile, PutSource, Store } from '@tally/storage';

/** A collector built directly on the contract. */
export function makeCollector(meta: CollectorMeta, run: (p: CollectorParams) => Promise<CollectorResult>): Collector {
  const build = (params: CollectorParams) => ({ meta, params, gather: () => run(params) });
  return Object.assign(build, { meta });
}

export const configCollector = (extra: Record<string, unknown> = {}) =>
  makeCollector({ key: 'config', version: '1.0', format: 'json', description: 'config', config: true }, async (p) => ({
    format: 'json',
    data: { install_uuid: 'uuid-from-config', platform: { system: 'Linux' }, ...extra, billing_provider_params: p.billingProviderParams ?? {} },
  }));

/** A daily CSV collector writing one row per slice: `since,until`; `parts` files per slice. */
export function dailyCsv(
  key: string,
  opts: { parts?: number; fail?: (since: Date) => boolean; calls?: { since: Date; until: Date }[]; padding?: number } = {},
): Collector {
  return makeCollector({ key, version: '1.1', format: 'csv', description: key, slicing: 'daily' }, async (p) => {
    const since = p.since as Date;
    const until = p.until as Date;
    opts.calls?.push({ since, until });
    if (opts.fail?.(since)) throw new Error(`boom on ${since.toISOString()} (password=hunter22)`);
    const n = opts.parts ?? 1;
    const files: string[] = [];
    for (let i = 0; i < n; i++) {
      const f = join(p.outputDir as string, n === 1 ? `${key}.csv` : `${key}_split${i}.csv`);
      await writeFile(f, `since,until,part,pad\n${since.toISOString()},${until.toISOString()},${i},${'x'.repeat(opts.padding ?? 0)}\n`);
      files.push(f);
    }
    return { format: 'csv', files };
  });
}

export function jsonCollector(key: string, data: Record<string, unknown> | null, meta: Partial<CollectorMeta> = {}): Collector {
  return makeCollector({ key, version: '1.0', format: 'json', description: key, slicing: 'limit', ...meta }, async (p) => ({
    format: 'json',
    data: data === null ? null : { ...data, since: (p.since as Date | undefined)?.toISOString() ?? null },
  }));
}

/** Wraps a storage and fails the puts `failWhen` picks, as a broken network would. */
export class FailingStorage implements Store {
  readonly backend = 'failing';
  readonly attempts: string[] = [];
  constructor(
    private readonly inner: Store,
    private readonly failWhen: (name: string, attempt: number) => boolean,
  ) {}
  async put(name: string, source: PutSource): Promise<void> {
    this.attempts.push(name);
    if (this.failWhen(name, this.attempts.length)) throw new StorageError(this.backend, `put ${name}: connection reset`);
    return this.inner.put(name, source);
  }
  get(name: string): Promise<LocalFile> {
    return this.inner.get(name);
  }
  exists(name: string): Promise<boolean> {
    return this.inner.exists(name);
  }
  remove(name: string): Promise<void> {
    return this.inner.remove(name);
  }
  glob(pattern: string, opts?: GlobOptions): Promise<string[]> {
    return this.inner.glob(pattern, opts);
  }
  describe(): Record<string, unknown> {
    return { backend: this.backend };
  }
}

export interface StoredTarball {
  name: string;
  members: Record<string, Buffer>;
  order: string[];
  status: string[][];
}

/** Every tarball under `base/data`, read back with its members and status rows. */
export async function readStored(storage: Store, base: string): Promise<StoredTarball[]> {
  const names = await storage.glob('data/**/*.tar.gz');
  const out: StoredTarball[] = [];
  for (const name of names) {
    const members = await readTarballMembers(join(base, name));
    const map = Object.fromEntries(members.map((m) => [m.name, m.data]));
    const status = map['./data_collection_status.csv']!
      .toString()
      .split('\r\n')
      .filter(Boolean)
      .slice(1)
      .map((l) => l.split(','));
    out.push({ name, members: map, order: members.map((m) => m.name), status });
  }
  return out;
}

/** The ok windows shipped for a key, from the status files, sorted; asserts no window appears twice. */
export function shippedWindows(tarballs: StoredTarball[], fileName: string): [string, string][] {
  const rows = tarballs.flatMap((t) => t.status.filter((r) => r[3] === fileName && r[4] === 'ok').map((r) => [r[1]!, r[2]!] as [string, string]));
  return rows.sort((a, b) => a[0].localeCompare(b[0]));
}

/** Throws unless the windows tile [from, to) exactly: no gap, no overlap, no repeat. */
export function assertTiles(windows: [string, string][], from: Date, to: Date): void {
  let at = pythonDatetime(from);
  for (const [s, u] of windows) {
    if (s !== at) throw new Error(`windows do not tile: expected a window starting ${at}, got ${s}–${u}; all: ${JSON.stringify(windows)}`);
    at = u;
  }
  if (at !== pythonDatetime(to)) throw new Error(`windows end at ${at}, expected ${pythonDatetime(to)}`);
}
