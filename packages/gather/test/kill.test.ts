import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Collector } from '@tally/collectors';
import { gather, PostgresStateStore } from '@tally/gather';
import { DirectoryStorage } from '@tally/storage';
import { createTestDatabase } from '@tally/testkit';
import { describe, expect, it } from 'vitest';
import { assertTiles, configCollector, makeCollector, readStored, shippedWindows } from './helpers.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = resolve(here, '../../..');

describe('a gather killed with SIGKILL midway', () => {
  it.each([
    { label: 'mid-history', hangAfter: 4, rerun: '2024-03-10T06:00:00Z', mark: '2024-03-03T00:00:00.000Z', total: 11 },
    // The last slice ends at the killed run's "now"; the next run's first slice ends later: a different name.
    { label: 'at the last, partial slice', hangAfter: 11, rerun: '2024-03-10T09:30:00Z', mark: '2024-03-10T00:00:00.000Z', total: 11 },
  ])('$label: leaves no gap and no duplicate window after the next run', async ({ hangAfter, rerun, mark, total }) => {
    await using tdb = await createTestDatabase('gather_kill');
    const root = await mkdtemp(join(tmpdir(), 'tally-kill-test-'));
    try {
      const base = join(root, 'ship');
      const now = '2024-03-10T06:00:00Z';
      const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'fixtures/kill-child.ts')], {
        cwd: repo,
        // The child resolves @tally/* to sources through the check tsconfig's paths, so no build is needed.
        env: { ...process.env, TMPDIR: root, TSX_TSCONFIG_PATH: join(repo, 'tsconfig.check.json'), KILL_CHILD_ARGS: JSON.stringify({ url: tdb.url, base, table: 'state', now, hangAfter }) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stderr.on('data', (d) => {
        err += d;
      });
      const exited = new Promise<NodeJS.Signals | number | null>((r) => child.on('exit', (code, signal) => r(signal ?? code)));
      const landed = await new Promise<string>((resolvePut, reject) => {
        child.stdout.on('data', (d) => {
          out += d;
          const m = /PUT (\S+)\n/.exec(out);
          if (m) resolvePut(m[1]!);
        });
        exited.then((c) => reject(new Error(`child exited (${c}) before upload ${hangAfter}: ${out} ${err}`)));
      });
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');

      const storage = new DirectoryStorage({ base });
      const before = await readStored(storage, base);
      expect(before.map((t) => t.name)).toContain(landed);
      expect(before).toHaveLength(hangAfter);

      const db = await tdb.client();
      const store = new PostgresStateStore(db, { table: 'state' });
      // The last upload landed but the kill came before its watermark was saved.
      expect((await store.watermarks()).get('events')?.toISOString()).toBe(mark);

      const events: Collector = makeCollector({ key: 'events', version: '1.0', format: 'csv', description: '', slicing: 'daily' }, async (p) => {
        const { writeFile } = await import('node:fs/promises');
        const f = join(p.outputDir as string, 'events.csv');
        await writeFile(f, `since,until\n${(p.since as Date).toISOString()},${(p.until as Date).toISOString()}\n`);
        return { format: 'csv', files: [f] };
      });
      // The killed session's advisory lock goes with its connection; allow the server a moment to notice.
      let res: Awaited<ReturnType<typeof gather>> | undefined;
      for (let i = 0; i < 50 && !res; i++) {
        try {
          res = await gather({ db, collectors: [configCollector(), events], storage, stateStore: store, now: new Date(rerun), config: { maxGatherPeriodDays: 10 }, installUuid: 'u-kill' });
        } catch (e) {
          if ((e as Error).name !== 'LockedError') throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      expect(res?.ok).toBe(true);
      // The window whose upload landed without its watermark is sent again: under the same name (an
      // overwrite) when it ends at a midnight, else the longer window replaces it.
      if (rerun === now) expect(res!.tarballs[0]!.name).toBe(landed);
      else expect(await storage.exists(landed)).toBe(false);
      const after = await readStored(storage, base);
      expect(after).toHaveLength(total);
      assertTiles(shippedWindows(after, 'events.csv'), new Date('2024-02-29T06:00:00Z'), new Date(rerun));
      expect((await store.watermarks()).get('events')?.toISOString()).toBe(new Date(rerun).toISOString());
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
