/** Bench stage: Renewal Guidance from the controller database's host metrics. */
import { parseArgs } from 'node:util';
import { buildRenewalReport } from '@tally/reports';
import { DirectoryStorage } from '@tally/storage';
import { connect } from './pg.js';

const { values } = parseArgs({ options: { db: { type: 'string' }, ship: { type: 'string' }, since: { type: 'string' } } });
const db = await connect(values.db!);
try {
  const result = await buildRenewalReport({ db, storage: new DirectoryStorage({ base: values.ship! }), since: new Date(values.since!), force: true });
  process.stdout.write(`${JSON.stringify({ status: result.status, name: result.name })}\n`);
  if (result.status !== 'written') process.exitCode = 1;
} finally {
  await db.end();
}
