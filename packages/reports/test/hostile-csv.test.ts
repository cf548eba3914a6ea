import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packTarball } from '@tally/testkit';
import { buildCcspReport, readWorkbook, reportParams } from '@tally/reports';
import { DirectoryStorage } from '@tally/storage';
import { GOOD_JHS, HOSTILE_JHS, VALID_JHS } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-report-hostile-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const { reportPeriod: _, ...params } = reportParams({ reportPeriod: '', pricePerNode: 11.55, sku: 'MCT4022MO', companyName: 'Acme', now: new Date('2024-04-02Z') });
const DAY = 'data/2024/03/06';
let lakes = 0;

/** A ship directory holding one tarball per CSV text (`config.json` with its own install uuid). */
async function lake(csvs: Record<string, string>): Promise<{ base: string; storage: DirectoryStorage }> {
  const base = join(dir, `lake-${++lakes}`);
  for (const [file, csv] of Object.entries(csvs)) {
    await packTarball(join(base, DAY, file), [
      { name: 'job_host_summary.csv', content: csv },
      { name: 'config.json', content: JSON.stringify({ install_uuid: file.replace(/\.tar\.gz$/, '') }) },
    ]);
  }
  return { base, storage: new DirectoryStorage({ base }) };
}

/** The CCSPv2 workbook of March 2024 built from `csvs`: every sheet's cell values, and the skipped inputs. */
async function report(csvs: Record<string, string>) {
  const { base, storage } = await lake(csvs);
  const res = await buildCcspReport({ type: 'CCSPv2', storage, period: { month: '2024-03' }, params });
  expect(res.status).toBe('written');
  const book = await readWorkbook(join(base, res.name));
  const sheets = book.worksheets.map((ws) => [ws.name, JSON.stringify(ws.getSheetValues())]);
  return { failures: res.failures, sheets };
}

describe('a report next to hostile CSVs', () => {
  it('names every bad tarball with member, line and reason, and its numbers are those of the good tarball alone', async () => {
    const good = await report({ 'a-good.tar.gz': GOOD_JHS });
    expect(good.failures).toEqual([]);
    const bad = Object.fromEntries(HOSTILE_JHS.map((c, i) => [`b-${String(i).padStart(2, '0')}.tar.gz`, c.csv]));
    const mixed = await report({ 'a-good.tar.gz': GOOD_JHS, ...bad });
    expect(mixed.failures.map((f) => f.file)).toEqual(Object.keys(bad).map((f) => `${DAY}/${f}`));
    HOSTILE_JHS.forEach((c, i) => {
      expect(mixed.failures[i], c.name).toMatchObject({ member: 'job_host_summary.csv', line: c.line });
      expect(mixed.failures[i]!.error, c.name).toMatch(new RegExp(`^job_host_summary\\.csv: line ${c.line}: `));
      expect(mixed.failures[i]!.error, c.name).toMatch(c.reason);
    });
    expect(mixed.sheets).toEqual(good.sheets);
  });

  it('a BOM, CRLF, an empty and a header-only CSV are read as their plain forms', async () => {
    const files = (which: 'csv' | 'plain') => Object.fromEntries(VALID_JHS.map((c, i) => [`v-${i}.tar.gz`, c[which]]));
    const unusual = await report({ 'a-good.tar.gz': GOOD_JHS, ...files('csv') });
    const plain = await report({ 'a-good.tar.gz': GOOD_JHS, ...files('plain') });
    expect(unusual.failures).toEqual([]);
    expect(unusual.sheets).toEqual(plain.sheets);
  });
});
