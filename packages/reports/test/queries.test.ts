import { ExcelDate } from '../src/excel-date.js';
import { type ReportDb, ReportQueries, type ReportTables } from '../src/queries.js';
import { describe, expect, it } from 'vitest';

// The sheets' queries share one DuckDB connection, which runs one statement at a time: prefetched
// queries must run one after another, in the order asked, each once.

/** A database that answers every query after a few event-loop turns and records what it ran. */
function recordingDb(fail?: RegExp) {
  const log: string[] = [];
  let running = 0;
  let overlapped = false;
  const db: ReportDb = {
    all: async () => {
      throw new Error('the sheets read rows as arrays');
    },
    async rows(sql) {
      running += 1;
      if (running > 1) overlapped = true;
      log.push(sql.replace(/\s+/g, ' ').slice(0, 40));
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
      running -= 1;
      if (fail?.test(sql)) throw new Error('query failed');
      return [[7]];
    },
  };
  return { db, log, overlapped: () => overlapped };
}

function tables(db: ReportDb): ReportTables {
  return { db, hosts: 'h_t', jobs: 'j_t', empty: false };
}

describe('ReportQueries', () => {
  it('runs prefetched queries one at a time, in the order asked, and each only once', async () => {
    const rec = recordingDb();
    const q = new ReportQueries(tables(rec.db));
    q.prefetch(() => [q.totalQuantity(), q.managedNodes(), q.usageByOrganizations()]);
    expect(await q.totalQuantity()).toBe(7);
    await q.usageByOrganizations();
    await q.managedNodes();
    await q.settled();
    expect(rec.overlapped()).toBe(false);
    expect(rec.log).toHaveLength(3);
    expect(rec.log[0]).toMatch(/^SELECT count\(h\)/);
    expect(rec.log[1]).toMatch(/^SELECT h, orgs, n, tr/);
    expect(rec.log[2]).toMatch(/^WITH j AS/);
  });

  it('with ready sheet rows, the per-host and per-organization sheets read them and never the usage tables', async () => {
    const sqls: string[] = [];
    const db: ReportDb = {
      all: async () => [],
      rows: async (sql) => {
        sqls.push(sql);
        return [];
      },
    };
    const q = new ReportQueries({ ...tables(db), ready: { hosts: 'ready_h', orgs: 'ready_o' } });
    await Promise.all([q.totalQuantity(), q.organizations(), q.organizations(true), q.managedNodes(), q.usageByOrganizations(true), q.orgQuantities()]);
    expect(sqls).toHaveLength(6);
    for (const sql of sqls) {
      expect(sql).toMatch(/ready_[ho]/);
      expect(sql).not.toMatch(/\b[hj]_t\b/);
    }
    // INDIRECT rows are not in ready rows: their jobs are counted from the usage tables.
    sqls.length = 0;
    await new ReportQueries({ ...tables(db), indirect: 'ind', ready: { hosts: 'ready_h', orgs: 'ready_o' } }).usageByOrganizations();
    expect(sqls[0]).toMatch(/\bj_t\b/);
  });

  it('hands a prefetched result to its sheet once and keeps no copy (asked again, the query runs again)', async () => {
    const rec = recordingDb();
    const q = new ReportQueries(tables(rec.db));
    q.prefetch(() => [q.managedNodes()]);
    await q.managedNodes();
    expect(rec.log).toHaveLength(1);
    await q.managedNodes();
    expect(rec.log).toHaveLength(2);
  });

  it('reports a prefetched query that failed where its sheet awaits it, and still runs the next', async () => {
    const rec = recordingDb(/^\s*SELECT h, orgs/);
    const q = new ReportQueries(tables(rec.db));
    q.prefetch(() => [q.managedNodes(), q.usageByOrganizations()]);
    await expect(q.usageByOrganizations()).resolves.toHaveLength(1);
    await expect(q.managedNodes()).rejects.toThrow('query failed');
    await q.settled();
    expect(rec.log).toHaveLength(2);
  });

  it('converts a prefetched result once, when its sheet takes it', async () => {
    let ran = 0;
    const db: ReportDb = {
      all: async () => [],
      rows: async () => {
        ran += 1;
        return [['host-1', 1n, 2n, 3n, 1_700_000_000_123_456n, null]];
      },
    };
    const q = new ReportQueries(tables(db));
    q.prefetch(() => [q.managedNodes()]);
    // The microseconds kept: 2023-11-14 22:13:20.123456 is 45244.92592735482 by Python's openpyxl `to_excel` and `.16g`.
    expect(await q.managedNodes()).toEqual([['host-1', 1, 2, 3, new ExcelDate('45244.92592735482'), null]]);
    expect(ran).toBe(1);
  });
});
