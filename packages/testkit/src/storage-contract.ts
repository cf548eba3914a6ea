import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { StorageError } from '@tally/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * `@tally/storage`'s `Sink`, with `Store`'s read methods optional: what the
 * contract exercises. Declared structurally so testkit does not depend on the
 * storage package.
 */
export interface ContractStorage {
  readonly backend: string;
  put(name: string, source: { dict: unknown } | { filename: string } | { stream: Readable } | { buffer: Uint8Array | string }): Promise<void>;
  get?(name: string): Promise<{ readonly path: string; release(): Promise<void> }>;
  exists?(name: string): Promise<boolean>;
  remove?(name: string): Promise<void>;
  glob?(pattern: string, opts?: { since?: Date; until?: Date }): Promise<string[]>;
  describe(): Record<string, unknown>;
  close?(): Promise<void>;
}

export type ContractSource = 'dict' | 'file' | 'stream' | 'buffer';

export interface StorageContractOptions {
  /** Backend name expected in `StorageError.backend` (default: `storage.backend`). */
  backend?: string;
  /**
   * A Store (get, exists, remove and glob all implemented), or only a Sink (false:
   * Segment, the console ingress), which then must have none of them. Default true.
   */
  readable?: boolean;
  /**
   * How `*` treats `/`: `true` for key-value stores (fnmatch), `false` for
   * directories. Left undefined, only patterns both agree on are tested.
   */
  starCrossesSlash?: boolean;
  /** `get()` hands out a temporary copy that `release()` removes (S3, PostgreSQL). Default false. */
  tempCopies?: boolean;
  /** Sources the backend accepts. Default all four. */
  sources?: ContractSource[];
  /** Names with `..` or an absolute path are refused. Default true. */
  checksNames?: boolean;
  /** Secret values that must never appear in `describe()`. */
  secrets?: string[];
  /**
   * For put-only backends: read back what the far side received for `name`
   * (bytes, or the parsed JSON for dicts) so puts are still verified.
   */
  received?: (name: string) => Promise<Uint8Array | unknown | undefined>;
}

const STAMP_A = '2024-03-10-120000+0000';
const STAMP_B = '2024-03-11-075901+0000';
const STAMP_C = '2024-03-12-000000+0000';

async function bytesOf(storage: ContractStorage, name: string): Promise<Buffer> {
  const local = await storage.get!(name);
  try {
    return await readFile(local.path);
  } finally {
    await local.release();
  }
}

/**
 * The behaviour every storage backend shares, as a vitest suite. Call it at the
 * top level of a test file: `storageContract('s3', async () => new S3Storage(…))`.
 * `makeStorage` runs once for the suite; names are prefixed with a random
 * namespace so the suite can share a bucket, table or directory.
 */
export function storageContract(
  name: string,
  makeStorage: () => Promise<ContractStorage> | ContractStorage,
  options: StorageContractOptions = {},
): void {
  const readable = options.readable ?? true;
  const sources = new Set<ContractSource>(options.sources ?? ['dict', 'file', 'stream', 'buffer']);
  const checksNames = options.checksNames ?? true;

  describe(`storage contract: ${name}`, () => {
    let storage: ContractStorage;
    let scratch: string;
    const ns = `contract-${randomBytes(4).toString('hex')}`;
    const backendName = () => options.backend ?? storage.backend;

    beforeAll(async () => {
      storage = await makeStorage();
      scratch = await mkdtemp(join(tmpdir(), 'tally-contract-'));
    });
    afterAll(async () => {
      await storage?.close?.();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    const expectStorageError = async (p: Promise<unknown>, pattern?: RegExp) => {
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, 'expected a StorageError, the call succeeded').toBeInstanceOf(StorageError);
      expect((err as StorageError).backend).toBe(backendName());
      expect((err as Error).message).toContain(backendName());
      if (pattern) expect((err as Error).message).toMatch(pattern);
    };

    // Binary content that is not valid UTF-8, so no backend can get away with text handling.
    const payload = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, 0x00]), randomBytes(4096)]);

    if (sources.has('dict')) {
      it('puts a dict as JSON', async () => {
        const key = `${ns}/dict/config.json`;
        // Top-level values are objects and lists, so a chunking Sink (Segment) can deliver all of it.
        const dict = { config: { foo: 5, bar: 'baz', text: 'ünï' }, nested: { list: [1, 2, 3], none: null }, hosts: ['h1', 'h2'] };
        await storage.put(key, { dict });
        if (readable) expect(JSON.parse((await bytesOf(storage, key)).toString('utf8'))).toEqual(dict);
        else if (options.received) expect(await options.received(key)).toEqual(dict);
      });
    }

    if (sources.has('buffer')) {
      it('puts a buffer byte for byte', async () => {
        const key = `${ns}/buffer/x-${STAMP_B}-0.tar.gz`;
        await storage.put(key, { buffer: payload });
        if (readable) expect((await bytesOf(storage, key)).equals(payload)).toBe(true);
        else if (options.received) expect(Buffer.from((await options.received(key)) as Uint8Array).equals(payload)).toBe(true);
      });
    }

    if (sources.has('file')) {
      it('puts a local file byte for byte', async () => {
        const local = join(scratch, 'upload.tar.gz');
        await writeFile(local, payload);
        const key = `${ns}/file/upload.tar.gz`;
        await storage.put(key, { filename: local });
        if (readable) expect((await bytesOf(storage, key)).equals(payload)).toBe(true);
        else if (options.received) expect(Buffer.from((await options.received(key)) as Uint8Array).equals(payload)).toBe(true);
      });

      it('fails with a StorageError when the local file is missing', async () => {
        const key = `${ns}/file/missing.tar.gz`;
        await expectStorageError(storage.put(key, { filename: join(scratch, 'no-such-file.tar.gz') }));
        if (readable) expect(await storage.exists!(key)).toBe(false);
      });
    }

    if (sources.has('stream')) {
      it('puts a stream byte for byte', async () => {
        const key = `${ns}/stream/streamed.tar.gz`;
        const chunks = [payload.subarray(0, 1000), payload.subarray(1000, 3000), payload.subarray(3000)];
        await storage.put(key, { stream: Readable.from(chunks) });
        if (readable) expect((await bytesOf(storage, key)).equals(payload)).toBe(true);
        else if (options.received) expect(Buffer.from((await options.received(key)) as Uint8Array).equals(payload)).toBe(true);
      });
    }

    if (checksNames) {
      it('refuses names with .. or an absolute path', async () => {
        const source = sources.has('dict') ? { dict: { a: 1 } } : { buffer: Buffer.from('x') };
        await expectStorageError(storage.put('../escape.json', source), /\.\./);
        await expectStorageError(storage.put(`${ns}/a/../../../escape.json`, source), /\.\./);
        await expectStorageError(storage.put('/etc/escape.json', source), /absolute/);
        await expectStorageError(storage.put('', source));
        if (readable) {
          await expectStorageError(storage.get!('../escape.json'));
          await expectStorageError(storage.exists!('/etc/passwd'));
          await expectStorageError(storage.remove!('../x'));
          await expectStorageError(storage.glob!('../*'));
        }
      });
    }

    const readMethods = ['get', 'exists', 'remove', 'glob'] as const;
    if (readable) {
      it('is a Store: get, exists, remove and glob are all there', () => {
        for (const m of readMethods) expect(typeof storage[m], m).toBe('function');
      });
    } else {
      it('is a Sink only: no read method that could only fail (callers check once, not per call)', () => {
        for (const m of readMethods) expect(m in storage, m).toBe(false);
      });
    }

    it('describe() names the backend and holds no secrets', () => {
      const d = storage.describe();
      expect(d.backend).toBe(storage.backend);
      const text = JSON.stringify(d);
      for (const secret of options.secrets ?? []) expect(text).not.toContain(secret);
      for (const [k, v] of Object.entries(d)) {
        if (/(secret|password|token|access_?key|credential|write_?key)/i.test(k)) expect(v === undefined || v === '[redacted]' || typeof v === 'boolean').toBe(true);
      }
    });

    if (!readable) return;

    it('exists, overwrite and remove', async () => {
      const key = `${ns}/life/${STAMP_A}.tar.gz`;
      expect(await storage.exists!(key)).toBe(false);
      await storage.put(key, { buffer: 'first' });
      expect(await storage.exists!(key)).toBe(true);
      await storage.put(key, { buffer: 'second' });
      expect((await bytesOf(storage, key)).toString('utf8')).toBe('second');
      // A name that is only a prefix of a stored one does not exist.
      expect(await storage.exists!(`${ns}/life/${STAMP_A}`)).toBe(false);
      await storage.remove!(key);
      expect(await storage.exists!(key)).toBe(false);
      // Removing what is not there is not an error.
      await storage.remove!(key);
    });

    it('get of a missing name is a StorageError naming the backend', async () => {
      await expectStorageError(storage.get!(`${ns}/missing/nothing.tar.gz`), /nothing\.tar\.gz/);
    });

    it('get() gives a local file that exists until released', async () => {
      const key = `${ns}/local/held.tar.gz`;
      await storage.put(key, { buffer: payload });
      const local = await storage.get!(key);
      expect(existsSync(local.path)).toBe(true);
      expect((await readFile(local.path)).equals(payload)).toBe(true);
      await local.release();
      if (options.tempCopies) expect(existsSync(local.path)).toBe(false);
      // Releasing twice is harmless.
      await local.release();
    });

    describe('glob', () => {
      const names = [
        `data/2024/03/10/a-${STAMP_A}-0.tar.gz`,
        `data/2024/03/11/b-${STAMP_B}-0.tar.gz`,
        `data/2024/03/11/b-${STAMP_B}-1.tar.gz`,
        `data/2024/03/12/c-${STAMP_C}-0.tar.gz`,
        'data/2024/03/12/unstamped.tar.gz',
        'data/2024/03/12/notes.txt',
      ];
      beforeAll(async () => {
        for (const n of names) await storage.put(`${ns}/g/${n}`, { buffer: n });
      });
      const g = async (pattern: string, opts?: { since?: Date; until?: Date }) =>
        (await storage.glob!(`${ns}/g/${pattern}`, opts)).map((n) => n.slice(`${ns}/g/`.length)).sort();

      it('matches * within a directory and returns full relative names', async () => {
        expect(await g('data/2024/03/11/*.tar.gz')).toEqual([names[1], names[2]]);
        expect(await g('data/2024/03/12/*')).toEqual([names[3], names[5], names[4]].sort());
        expect(await g('data/2024/03/1?/b-*-1.tar.gz')).toEqual([names[2]]);
        expect(await g('data/2024/03/13/*')).toEqual([]);
        expect(await g('nothing-here/*')).toEqual([]);
      });

      if (options.starCrossesSlash !== undefined) {
        it(`* ${options.starCrossesSlash ? 'crosses' : 'does not cross'} /`, async () => {
          const found = await g('data/*.tar.gz');
          if (options.starCrossesSlash) expect(found).toEqual(names.filter((n) => n.endsWith('.tar.gz')).sort());
          else expect(found).toEqual([]);
        });
      }

      it('filters by since ≤ stamp < until and drops unstamped names when a bound is given', async () => {
        const all = 'data/2024/03/*/*.tar.gz';
        const day = (d: string) => new Date(`2024-03-${d}T00:00:00Z`);
        expect(await g(all, { since: day('11') })).toEqual([names[1], names[2], names[3]]);
        expect(await g(all, { until: day('12') })).toEqual([names[0], names[1], names[2]]);
        expect(await g(all, { since: day('11'), until: day('12') })).toEqual([names[1], names[2]]);
        // until is exclusive, since inclusive, at the exact stamp.
        expect(await g(all, { since: new Date('2024-03-12T00:00:00Z') })).toEqual([names[3]]);
        expect(await g(all, { until: new Date('2024-03-12T00:00:00Z'), since: new Date('2024-03-11T07:59:01Z') })).toEqual([names[1], names[2]]);
        // Without bounds the unstamped name is kept.
        expect(await g('data/2024/03/12/*.tar.gz')).toEqual([names[3], names[4]]);
      });
    });
  });
}
