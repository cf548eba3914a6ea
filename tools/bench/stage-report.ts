/** Bench stage: the CCSPv2 workbook for a month of daily tarballs. */
import { parseArgs } from 'node:util';
import { buildCcspReport, reportParams } from '@tally/reports';
import { DirectoryStorage } from '@tally/storage';

const { values } = parseArgs({ options: { ship: { type: 'string' }, month: { type: 'string' } } });
const result = await buildCcspReport({
  type: 'CCSPv2',
  storage: new DirectoryStorage({ base: values.ship! }),
  period: { month: values.month! },
  params: reportParams({ reportPeriod: values.month!, pricePerNode: 11.55, sku: 'MCT3752MO', companyName: 'Bench' }),
  force: true,
});
process.stdout.write(`${JSON.stringify({ status: result.status, name: result.name, failures: result.failures.length })}\n`);
if (result.status !== 'written') process.exitCode = 1;
