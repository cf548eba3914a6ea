/**
 * Fill a PostgreSQL database with a synthetic Automation Controller site.
 *
 *   pnpm tools:seed --db postgres://… --days 30 --jobs-per-day 1000 --hosts 20000
 *
 * Creates the tables of the synthetic controller schema (@tally/demo) when missing; refuses to seed
 * over existing jobs unless --reset is given (which empties them first).
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import type PgModule from 'pg';
import { applyControllerSchema, seedController, truncateController } from '@tally/demo';

// The workspace root has no `pg`; borrow the collectors package's copy.
const pg = createRequire(new URL('../packages/collectors/package.json', import.meta.url))('pg') as typeof PgModule;

const USAGE = `usage: pnpm tools:seed --db URL [--days 30] [--jobs-per-day 1000] [--hosts 20000] [--orgs 5]
       [--hosts-per-job 30] [--events-per-summary 1] [--seed 1] [--end ISO-DATE] [--reset] [--verbose]`;

function int(name: string, v: string | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new Error(`--${name}: expected a whole number ≥ ${min}, got "${v}"`);
  return Number(v);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      db: { type: 'string' },
      days: { type: 'string' },
      'jobs-per-day': { type: 'string' },
      hosts: { type: 'string' },
      orgs: { type: 'string' },
      'hosts-per-job': { type: 'string' },
      'events-per-summary': { type: 'string' },
      seed: { type: 'string' },
      end: { type: 'string' },
      reset: { type: 'boolean', default: false },
      verbose: { type: 'boolean', short: 'v', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const url = values.db ?? process.env.DATABASE_URL;
  if (!url) throw new Error('--db URL (or DATABASE_URL) is required');
  const end = values.end ? new Date(values.end) : undefined;
  if (end && Number.isNaN(end.getTime())) throw new Error(`--end: "${values.end}" is not a date`);
  const opts = {
    days: int('days', values.days, 30),
    jobsPerDay: int('jobs-per-day', values['jobs-per-day'], 1000),
    hosts: int('hosts', values.hosts, 20000),
    orgs: int('orgs', values.orgs, 5),
    hostsPerJob: int('hosts-per-job', values['hosts-per-job'], 30),
    eventsPerSummary: int('events-per-summary', values['events-per-summary'], 1, 0),
    seed: int('seed', values.seed, 1, 0),
    ...(end ? { end } : {}),
    ...(values.verbose ? { onStep: (what: string, s: number) => process.stderr.write(`${s.toFixed(2)}s ${what}\n`) } : {}),
  };
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await applyControllerSchema(client);
    if (values.reset) await truncateController(client);
    else {
      const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM main_unifiedjob');
      if (Number(rows[0]!.n) > 0) throw new Error('the database already holds jobs; pass --reset to empty it first');
    }
    const t0 = performance.now();
    const summary = await seedController(client, opts);
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    process.stdout.write(`${JSON.stringify({ ...summary, seconds: Number(seconds) }, null, 2)}\n`);
  } finally {
    await client.end();
  }
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  const usage = /^--|ERR_PARSE_ARGS/.test(`${message} ${(err as { code?: string }).code ?? ''}`);
  process.stderr.write(`tools:seed: ${message}\n${usage ? `${USAGE}\n` : ''}`);
  process.exitCode = usage ? 2 : 1;
});
