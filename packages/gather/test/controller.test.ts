import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { config, jobHostSummary } from '@tally/collectors';
import { gather, PostgresStateStore } from '@tally/gather';
import { readTarballMembers } from '@tally/package';
import { DirectoryStorage } from '@tally/storage';
import { createTestDatabase } from '@tally/testkit';
import { describe, expect, it } from 'vitest';
import { applyControllerSchema, seedController } from '@tally/demo';

describe('gather with the real controller collectors', () => {
  it('ships job_host_summary day by day from a seeded controller, every row once', async () => {
    await using tdb = await createTestDatabase('gather_controller');
    const root = await mkdtemp(join(tmpdir(), 'tally-gather-controller-'));
    try {
      const db = await tdb.client();
      await applyControllerSchema(db);
      const end = new Date('2024-03-04T00:00:00Z');
      const seeded = await seedController(db, { days: 3, jobsPerDay: 4, hosts: 12, orgs: 2, seed: 7, end, hostsPerJob: 3 });
      const base = join(root, 'ship');
      const storage = new DirectoryStorage({ base });
      const res = await gather({
        db,
        collectors: [config, jobHostSummary],
        storage,
        stateStore: new PostgresStateStore(db),
        since: seeded.since,
        until: end,
        now: new Date('2024-03-05T00:00:00Z'),
        billingProviderParams: { ship_path: base },
      });
      expect(res.failures).toEqual([]);
      expect(res.tarballs).toHaveLength(3);
      let rows = 0;
      for (const t of res.tarballs) {
        expect(t.name).toContain(`/${seeded.installUuid}-`);
        const members = await readTarballMembers(join(base, t.name));
        expect(members.map((m) => m.name)).toEqual(['./job_host_summary.csv', './config.json', './data_collection_status.csv', './manifest.json']);
        const csv = members[0]!.data.toString().trimEnd().split('\n');
        rows += csv.length - 1;
        const doc = JSON.parse(members[1]!.data.toString());
        expect(doc.install_uuid).toBe(seeded.installUuid);
        expect(doc.billing_provider_params).toEqual({ ship_path: base });
      }
      const { rows: count } = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM main_jobhostsummary WHERE modified >= $1 AND modified < $2',
        [seeded.since, end],
      );
      expect(rows).toBe(count[0]!.n);
      expect(rows).toBeGreaterThan(0);
      expect(res.watermarks.job_host_summary).toBe(end.toISOString());
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
