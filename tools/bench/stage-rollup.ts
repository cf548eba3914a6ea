/** Bench stage: roll daily tarballs of a month up into month Parquet (job_host_summary). */
// First, as in the `tally` bin: DuckDB's allocator as the command configures it.
import '../../packages/cli/src/duckdb-allocator.js';
import { parseArgs } from 'node:util';
import { rollup } from '@tally/dataframes';
import { DirectoryStorage } from '@tally/storage';

const { values } = parseArgs({ options: { ship: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' } } });
const result = await rollup({
  storage: new DirectoryStorage({ base: values.ship! }),
  since: new Date(values.since!),
  until: new Date(values.until!),
  period: 'month',
  kinds: ['job_host_summary'],
});
const rows = result.parts.reduce((s, p) => s + p.rows, 0);
process.stdout.write(`${JSON.stringify({ tarballs: result.tarballs.length, parts: result.parts.length, rows, failures: result.failures.length })}\n`);
if (result.failures.length || result.tarballs.length === 0) process.exitCode = 1;
