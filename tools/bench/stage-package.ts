/** Bench stage: package one CSV into a tarball with @tally/package (no collector, no storage). */
import { parseArgs } from 'node:util';
import { writeTarball } from '@tally/package';

const { values } = parseArgs({ options: { csv: { type: 'string' }, out: { type: 'string' } } });
const now = new Date();
const t = await writeTarball(
  values.out!,
  {
    members: [{ key: 'job_host_summary', format: 'csv', version: '1.2', source: { file: values.csv! } }],
    config: { version: '1.0', source: { json: { install_uuid: 'bench' } } },
    status: [{ fileName: 'job_host_summary.csv', status: 'ok', since: now, until: now }],
  },
  { mtime: now },
);
process.stdout.write(`${JSON.stringify({ bytes: t.bytes, dataBytes: t.dataBytes })}\n`);
