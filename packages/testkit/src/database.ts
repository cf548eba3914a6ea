import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface TestDatabase extends AsyncDisposable {
  /** Connection URL of a fresh, empty database owned by this test file. */
  url: string;
  name: string;
  /** A connected client; closed by `drop()`. */
  client(): Promise<pg.Client>;
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.TALLY_TEST_PG_ADMIN_URL;
  if (!url) throw new Error('TALLY_TEST_PG_ADMIN_URL is not set: run tests through vitest (the testkit global setup)');
  return url;
}

/** Create a fresh database for one test file; drop it afterwards (`await using` or `drop()`). */
export async function createTestDatabase(prefix = 'tally'): Promise<TestDatabase> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`.toLowerCase();
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const u = new URL(adminUrl());
  u.pathname = `/${name}`;
  const url = u.toString();
  const clients: pg.Client[] = [];
  const drop = async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    const a = new pg.Client({ connectionString: adminUrl() });
    await a.connect();
    try {
      await a.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    } finally {
      await a.end();
    }
  };
  return {
    url,
    name,
    async client() {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      clients.push(c);
      return c;
    },
    drop,
    [Symbol.asyncDispose]: drop,
  };
}
