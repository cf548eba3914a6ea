import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createLogger } from '@tally/core';
import { metricsUtilityTarballs } from '@tally/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { countCsvRows } from '../src/csv-rows.js';
import { besideProgress, formatBytes, logProgress, logReadProgress, ttyProgress, ttyReadProgress } from '../src/progress.js';
import { run } from '../src/main.js';

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

describe('read progress (rollup, report)', () => {
  it('redraws one line on a terminal and clears it; warnings clear it first; info gives way', () => {
    const c = capture();
    const p = ttyReadProgress(c.s, 'report');
    p.update({ phase: 'plan', days: { done: 0, total: 30 }, tarballs: 240 });
    p.update({ phase: 'aggregate', days: { done: 30, total: 30 }, tarballs: 120, rows: 6_000_000 });
    const lines: string[] = [];
    const base = createLogger({ stream: { write: (t: string) => lines.push(t) } as unknown as NodeJS.WritableStream, format: 'json', level: 'debug' });
    const log = besideProgress(base, p);
    log.info('not shown');
    log.warn('a warning');
    p.clear();
    expect(c.text()).toContain('\x1b[2K  … report: plan  days 0/30  240 tarball(s)\r');
    expect(c.text()).toContain('report: aggregate  days 30/30  120 tarball(s)  6,000,000 rows\r');
    expect(c.text().endsWith('\x1b[2K\r')).toBe(true);
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['a warning']);
  });

  it('logs one JSON line per phase otherwise (every update at debug)', () => {
    const c = capture();
    const p = logReadProgress(createLogger({ stream: c.s, format: 'json', level: 'info' }));
    p.update({ phase: 'extract', date: '2024-03-01', days: { done: 0, total: 2 }, tarballs: 3 });
    p.update({ phase: 'extract', date: '2024-03-02', days: { done: 1, total: 2 }, tarballs: 6 });
    p.update({ phase: 'write', days: { done: 2, total: 2 }, rows: 9 });
    const lines = c.text().trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toMatchObject([
      { level: 'info', msg: 'progress', phase: 'extract', date: '2024-03-01', days: 0, of: 2, tarballs: 3 },
      { level: 'info', msg: 'progress', phase: 'write', days: 2, of: 2, rows: 9 },
    ]);
  });

  async function tally(argv: string[], ship: string, tty: boolean) {
    const stdout = new PassThrough();
    const stderr = Object.assign(new PassThrough(), tty ? { isTTY: true } : {});
    let out = '';
    let err = '';
    stdout.on('data', (d) => (out += String(d)));
    stderr.on('data', (d) => (err += String(d)));
    const env = { METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: ship, METRICS_UTILITY_REPORT_TYPE: 'CCSPv2' };
    const code = await run(argv, { stdout, stderr, env, cwd: ship });
    return { code, out, err };
  }

  it('tally rollup and tally report: live on a (pseudo) terminal, JSON lines under cron, the output path printed once', async () => {
    const ship = mkdtempSync(join(dir, 'ship-'));
    cpSync(join(metricsUtilityTarballs().base, 'data'), join(ship, 'data'), { recursive: true });
    const roll = await tally(['rollup', '--since', '2024-03-01', '--until', '2024-03-08', '--period', 'day'], ship, true);
    expect(roll.code).toBe(0);
    expect(roll.err).toMatch(/… rollup: extract 2024-03-0\d {2}days \d\/7 {2}\d+ tarball\(s\)/);
    expect(roll.err).toMatch(/rollup: write 2024-03-0\d {2}days \d\/7 {2}\d+ tarball\(s\) {2}[\d,]+ rows/);
    expect(roll.err).toMatch(/rolled \d+ tarball\(s\) up/);
    expect(roll.err).not.toMatch(/rollup written/);

    const tty = await tally(['report', '--month', '2024-03', '--force'], ship, true);
    expect(tty.code).toBe(0);
    for (const phase of ['plan', 'rollups', 'extract', 'aggregate', 'write']) expect(tty.err, phase).toContain(`report: ${phase}`);
    expect(`${tty.out}${tty.err}`.match(/CCSPv2-2024-03\.xlsx/g)).toHaveLength(1);

    const cron = await tally(['report', '--month', '2024-03', '--force'], ship, false);
    expect(cron.code).toBe(0);
    expect(cron.err).not.toMatch(/\r|\x1b/);
    const lines = cron.err.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.msg === 'progress').map((l) => l.phase)).toEqual(['plan', 'rollups', 'extract', 'aggregate', 'write']);
    expect(`${cron.out}${cron.err}`.match(/CCSPv2-2024-03\.xlsx/g)).toHaveLength(1);
  }, 120_000);
});
