import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createLogger } from '@tally/core';
import { afterAll, describe, expect, it } from 'vitest';
import { countCsvRows } from '../src/csv-rows.js';
import { formatBytes, logProgress, ttyProgress } from '../src/progress.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-progress-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture() {
  const s = new PassThrough();
  let text = '';
  s.on('data', (b) => (text += b));
  return { s, text: () => text };
}

describe('countCsvRows', () => {
  it('counts records after the header, a quoted newline once, with or without a final newline', async () => {
    const f = join(dir, 'a.csv');
    writeFileSync(f, 'id,name\n1,"two\nlines"\n2,"say ""hi"""\n3,x');
    expect(await countCsvRows(f)).toBe(3);
    writeFileSync(f, 'id,name\n');
    expect(await countCsvRows(f)).toBe(0);
    writeFileSync(f, '');
    expect(await countCsvRows(f)).toBe(0);
  });
});

describe('progress', () => {
  it('shows collectors, rows, tarballs and running byte totals on a terminal', () => {
    const c = capture();
    const p = ttyProgress(c.s);
    const slice = { since: new Date('2024-03-10T00:00:00Z'), until: new Date('2024-03-11T00:00:00Z') };
    p.collectorStarted('job_host_summary', slice);
    p.collectorFinished('job_host_summary', { rows: 12345, bytes: 2048, slice });
    p.tarballShipped('data/2024/03/10/x.tar.gz', 1536);
    p.tarballShipped('data/2024/03/10/y.tar.gz', 1536);
    p.collectorFailed('main_jobevent', 'relation does not exist');
    const out = c.text();
    expect(out).toContain('✓ job_host_summary 2024-03-10  12,345 rows, 2.0 KiB');
    expect(out).toContain('↑ shipped data/2024/03/10/y.tar.gz (1.5 KiB)  [2 shipped, 3.0 KiB]');
    expect(out).toContain('✗ main_jobevent  relation does not exist');
    expect(p.totals).toMatchObject({ collectors: 1, failed: 1, rows: 12345, tarballsShipped: 2, bytesShipped: 3072 });
  });

  it('logs JSON lines otherwise', () => {
    const c = capture();
    const p = logProgress(createLogger({ stream: c.s, format: 'json', level: 'info' }));
    p.tarballWritten('x.tar.gz', 10);
    p.collectorFinished('config', { bytes: 5 });
    const lines = c.text().trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'tarball written', tarball: 'x.tar.gz', bytes: 10 });
    expect(lines[1]).toMatchObject({ msg: 'collector finished', collector: 'config', bytes: 5 });
  });

  it('formats byte sizes in binary units', () => {
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1024 * 1024 * 5.5)).toBe('5.5 MiB');
    expect(formatBytes(1024 ** 3 * 20)).toBe('20 GiB');
  });
});
