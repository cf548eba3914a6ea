import { applyControllerSchema, type EmbeddedPostgres, startEmbeddedPostgres } from '@tally/demo';
import { type Collector, type CollectorParams, jobHostSummary, mainHost, mainHostMetric } from '@tally/collectors';
import { type JsonCheck, prepareJsonCheck } from '../packages/collectors/src/host-variables.js';
import { tempdir } from '@tally/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvObjects } from '../packages/collectors/test/csv.js';
import { insertFixtureSite, SINCE, UNTIL } from '../packages/collectors/test/fixture-site.js';

// The suite's PostgreSQL is 15, so host variables are recognised there by a pg_temp function or
// a regex. On PostgreSQL 16+ the collectors use pg_input_is_valid instead: checked here on the
// embedded PostgreSQL (PGlite, 16+) against the other two ways, on the same controller rows.
let server: EmbeddedPostgres;
let db: pg.Client;

beforeAll(async () => {
  server = await startEmbeddedPostgres();
  db = new pg.Client({ connectionString: server.url });
  await db.connect();
  await applyControllerSchema(db);
  await insertFixtureSite(db);
});
afterAll(async () => {
  await db?.end();
  await server?.stop();
});

async function rows(c: Collector<CollectorParams>, jsonCheck?: JsonCheck): Promise<Record<string, string | null>[]> {
  const out = await tempdir('pg16-out');
  try {
    const r = await c({ db, since: SINCE, until: UNTIL, outputDir: out.path, ...(jsonCheck ? { jsonCheck } : {}) }).gather();
    if (r.format !== 'csv') throw new Error(`expected CSV, got ${r.format}`);
    return r.files.flatMap(csvObjects);
  } finally {
    await out.remove();
  }
}

describe('host variables on PostgreSQL 16+', () => {
  it('picks pg_input_is_valid on the server', async () => {
    const { rows: v } = await db.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`);
    expect(v[0]!.v).toBeGreaterThanOrEqual(160000);
    expect(await prepareJsonCheck(db)).toBe('pg_input_is_valid');
  });

  it('job_host_summary: JSON, YAML, malformed and NUL-escaped variables read as with the pg_temp function', async () => {
    const auto = await rows(jobHostSummary);
    const vars = Object.fromEntries(auto.map((r) => [r.host_name, [r.ansible_host_variable, r.ansible_connection_variable]]));
    // h1: JSON; h2: YAML; h4: not JSON and no YAML line; h6: JSON that jsonb rejects (\u0000).
    expect(vars).toMatchObject({ h1: ['10.0.0.1', 'ssh'], h2: ['10.0.0.2', 'winrm'], h4: [null, null], h6: [null, null] });
    expect(auto).toEqual(await rows(jobHostSummary, 'temp-function'));
    // The regex reads flat JSON objects only, and the fixture's are all flat.
    expect(auto).toEqual(await rows(jobHostSummary, 'regex'));
  });

  it('main_hostmetric: the same rows whichever way JSON is recognised', async () => {
    const auto = await rows(mainHostMetric);
    expect(auto.map((r) => [r.hostname, r.ansible_host_variable])).toContainEqual(['h1', '10.0.0.1']);
    expect(auto).toEqual(await rows(mainHostMetric, 'temp-function'));
    expect(auto).toEqual(await rows(mainHostMetric, 'regex'));
  });

  it('main_host: the same rows whichever way JSON is recognised', async () => {
    const auto = await rows(mainHost);
    expect(auto.length).toBeGreaterThan(0);
    expect(auto).toEqual(await rows(mainHost, 'temp-function'));
  });
});
