import { createRequire } from 'node:module';
import type PgModule from 'pg';

// The workspace root has no `pg` of its own; use the collectors package's copy.
export const pg = createRequire(new URL('../../packages/collectors/package.json', import.meta.url))('pg') as typeof PgModule;

export async function connect(url: string): Promise<PgModule.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return c;
}
