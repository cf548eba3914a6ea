import { findOrStartPostgres, type PostgresServer } from './postgres-server.js';

let server: PostgresServer | undefined;

/** Vitest global setup: one PostgreSQL server for the whole run, announced once. */
export async function setup(): Promise<void> {
  server = await findOrStartPostgres();
  process.env.TALLY_TEST_PG_ADMIN_URL = server.url;
  const shown = server.url.replace(/\/\/([^:@/]+):[^@]*@/, '//$1:***@');
  process.stdout.write(`[testkit] PostgreSQL for tests: ${shown} (${server.kind})\n`);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
