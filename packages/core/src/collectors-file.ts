import { readFile } from 'node:fs/promises';
import { ConfigError } from './errors.js';
import { writeFileAtomic } from './fs.js';

/** The document of a state file: one entry per collector key. */
export interface CollectorsDocument<E> {
  version: 1;
  collectors: Record<string, E>;
}

/**
 * Per-collector state kept in one JSON file. Every change rewrites the file
 * atomically (temp file, fsync, rename), so a crash leaves the old or the new
 * document, never a torn one; changes from this process are applied one at a
 * time. Other processes are kept out by the caller's lock.
 */
export class CollectorsFile<E> {
  private chain: Promise<unknown> = Promise.resolve();

  /** `what` names the file in messages, e.g. `state file`. */
  constructor(
    readonly path: string,
    private readonly what: string,
  ) {
    if (!path) throw new ConfigError(`${what} path is empty`, { field: 'stateFile' });
  }

  /** The document, or `undefined` when the file does not exist. */
  async read(): Promise<CollectorsDocument<E> | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const parsed = JSON.parse(text) as CollectorsDocument<E>;
      if (!parsed || typeof parsed.collectors !== 'object' || parsed.collectors === null) throw new Error('no "collectors" object');
      return parsed;
    } catch (err) {
      throw new ConfigError(`${this.what} ${this.path} is not a Tally ${this.what}: ${(err as Error).message}`, { field: 'stateFile' });
    }
  }

  /** Read, change with `fn` and write back, one at a time within this process; answers what `fn` returns. */
  update<R>(fn: (doc: CollectorsDocument<E>) => R): Promise<R> {
    const next = this.chain.then(async () => {
      const doc = (await this.read()) ?? { version: 1, collectors: {} };
      const out = fn(doc);
      await writeFileAtomic(this.path, `${JSON.stringify(doc, null, 2)}\n`);
      return out;
    });
    this.chain = next.catch(() => {});
    return next;
  }
}
