/**
 * Bench stage: gather job_host_summary (plus config) for a window into a directory
 * storage. Writes the COPY statement it ran to `--sql-out`, so the floor replays
 * exactly the same query through psql.
 *   node --import tsx tools/bench/stage-gather.ts --db URL --ship DIR --since ISO --until ISO --sql-out FILE
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { config, jobHostSummary } from '@tally/collectors';
import { gather, JsonFileStateStore } from '@tally/gather';
import { DirectoryStorage } from '@tally/storage';
import { connect } from './pg.js';

const { values } = parseArgs({
  options: { db: { type: 'string' }, ship: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, 'sql-out': { type: 'string' } },
});
const db = await connect(values.db!);
const statements: string[] = [];
const query = db.query.bind(db) as (...a: unknown[]) => unknown;
// Record what the collector sends, to replay it as the floor.
(db as unknown as { query: (...a: unknown[]) => unknown }).query = (...args: unknown[]) => {
  const first = args[0] as { text?: string } | string;
  const text = typeof first === 'string' ? first : first?.text;
  if (text && /^\s*(COPY|CREATE)/.test(text)) statements.push(text);
  return query(...args);
};
const result = await gather({
  db,
  collectors: [config, jobHostSummary],
  storage: new DirectoryStorage({ base: values.ship! }),
  stateStore: new JsonFileStateStore(join(values.ship!, 'state.json')),
  since: new Date(values.since!),
  until: new Date(values.until!),
  config: { maxGatherPeriodDays: 400 },
});
await db.end();
writeFileSync(values['sql-out']!, JSON.stringify(statements));
process.stdout.write(`${JSON.stringify({ ok: result.ok, tarballs: result.tarballs.length, bytes: result.tarballs.reduce((s, t) => s + t.bytes, 0), failures: result.failures })}\n`);
if (!result.ok) process.exitCode = 1;
