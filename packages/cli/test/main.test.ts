import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

const cli = runCli;

describe('tally command line', () => {
  it('prints help with examples and exit codes for the program and every command, exit 0', async () => {
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/Usage: tally/);
    for (const cmd of ['gather', 'collect', 'rollup', 'report', 'status', 'schedule', 'demo']) {
      expect(top.stdout).toContain(cmd);
      const r = await cli([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout, cmd).toMatch(/Examples:/);
      expect(r.stdout, cmd).toMatch(/Exit codes: 0 success, 1 failure, 2 usage/);
    }
    expect((await cli(['help', 'gather'])).code).toBe(0);
  });

  it('gives exit code 2 and one line on stderr for usage errors', async () => {
    const cases: [string[], RegExp][] = [
      [['gather', '--ship', '--dry-run'], /option '--ship' cannot be used with option '--dry-run'/],
      [['gather', '--since', 'yesterday'], /--since.*"yesterday" is not understood/],
      [['gathr'], /unknown command 'gathr'.*gather/],
      [['status', '--bogus'], /unknown option '--bogus'/],
      [['rollup', '--since', '2024-03-01', '--period', 'year'], /'year' is invalid.*day, week, month/],
      [['rollup'], /required option '--since <when>' not specified/],
      [['status'], /needs a database: pass --db/],
      [['status', '--db', 'mysql://x'], /not a postgres:\/\/ URL/],
      [['gather', '--db', 'postgres://127.0.0.1:1/x'], /pass --ship to ship the tarballs, or --dry-run/],
      [['gather', '--ship', '--db', 'postgres://127.0.0.1:1/x', '--collectors', 'nope'], /unknown collector nope; known: job_host_summary/],
      [['gather', '--ship', '--db', 'postgres://127.0.0.1:1/x'], /METRICS_UTILITY_SHIP_TARGET is not set/],
      [['report', '--month', '2024-13'], /--month: "2024-13" is not understood/],
      [['schedule', '--once', '--db', 'postgres://127.0.0.1:1/x', '--until-lag', 'later'], /--until-lag: "later" is not understood/],
      [['demo', '--days', '0'], /expected a whole number ≥ 1/],
      [['collect', '--target', 't.json'], /required option '--query <file>' not specified/],
      [['collect', '--query', 'q.json', '--target', 't.json', '--chunk-size', '0'], /expected a whole number ≥ 1/],
      [['collect', '--query', '/nonexistent/q.json', '--target', 't.json'], /query file \/nonexistent\/q.json cannot be read/],
      [['schedule', '--once', '--db', 'postgres://127.0.0.1:1/x', '--listen', '9464'], /--listen "9464" is not HOST:PORT/],
      [['schedule', '--once', '--db', 'postgres://127.0.0.1:1/x', '--schedule', 'packages/cli/test/fixtures/schedule-unknown.json'], /schedule: jobs_feed is not a built-in collector; a user collector names its "query" and "target" files/],
      [['schedule', '--once', '--db', 'postgres://127.0.0.1:1/x', '--schedule', 'packages/cli/test/fixtures/schedule-bad-since.json'], /schedule-bad-since\.json: feed\.since: "whenever" is not understood/],
      [['schedule', '--once', '--db', 'postgres://127.0.0.1:1/x', '--listen', '0.0.0.0:0'], /without a token the status API listens on loopback only/],
    ];
    for (const [argv, message] of cases) {
      const r = await cli(argv, argv.includes('--collectors') ? { METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: '/tmp/x' } : {});
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr.trimEnd().split('\n'), argv.join(' ')).toHaveLength(1);
      expect(r.stderr, argv.join(' ')).toMatch(/^tally: /);
      expect(r.stderr, argv.join(' ')).toMatch(message);
    }
  });

  it('report refuses a price Python float() refuses (exit 2, before anything is read), and NaN, infinity, a negative price and an empty value', async () => {
    const env = { METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: '/nonexistent/tally', METRICS_UTILITY_REPORT_TYPE: 'CCSP' };
    for (const price of ['11,5', '$12', 'nan', 'inf', '-5', '', ' ']) {
      const r = await cli(['report', '--month', '2024-03'], { ...env, METRICS_UTILITY_PRICE_PER_NODE: price });
      expect(r.code, JSON.stringify(price)).toBe(2);
      expect(r.stderr.trimEnd().split('\n'), JSON.stringify(price)).toHaveLength(1);
      expect(r.stderr, JSON.stringify(price)).toContain(`METRICS_UTILITY_PRICE_PER_NODE=${JSON.stringify(price)} is invalid; expected a finite number of 0 or more such as 12.5`);
    }
  });

  it('reads settings from --config and names the file in a configuration error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-cfg-'));
    try {
      const file = join(dir, 'tally.json');
      writeFileSync(file, JSON.stringify({ shipTarget: 'ftp' }));
      const r = await cli(['--config', file, 'gather', '--ship', '--db', 'postgres://127.0.0.1:1/x']);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`tally: ${file}: shipTarget="ftp" is invalid; expected directory, s3, crc, crc-mutual, postgres, ingress (gather) or directory, s3, controller_db (report)\n`);
      const missing = await cli(['--config', join(dir, 'nope.json'), 'status', '--db', 'postgres://127.0.0.1:1/x']);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/config file .*nope.json does not exist/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shipping to the Red Hat console needs the billing provider and account, as metrics-utility', async () => {
    const r = await cli(['gather', '--ship', '--db', 'postgres://127.0.0.1:1/x'], {
      METRICS_UTILITY_SHIP_TARGET: 'crc',
      METRICS_UTILITY_SERVICE_ACCOUNT_ID: 'sa',
      METRICS_UTILITY_SERVICE_ACCOUNT_SECRET: 'very-secret-value',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('tally: METRICS_UTILITY_SHIP_TARGET=crc needs METRICS_UTILITY_BILLING_PROVIDER, METRICS_UTILITY_BILLING_ACCOUNT_ID\n');
  });

  it('demo refuses a non-empty directory it did not make (exit 2), before starting anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-demo-dir-'));
    try {
      writeFileSync(join(dir, 'precious.txt'), 'keep me');
      const r = await cli(['demo', '--dir', dir]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`tally: demo: ${dir} is not empty and was not made by the demo; pass --dir with a new or empty directory\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without a command prints the help on stderr with exit code 2', async () => {
    const r = await cli([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Usage: tally/);
  });

  it('reports an unreachable database as a failure (1) without printing its password', async () => {
    const r = await cli(['status', '--db', 'postgres://tally:s3cret-pw@127.0.0.1:1/awx']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tally: cannot connect to postgres:\/\/tally:\*\*\*@127\.0\.0\.1:1\/awx/);
    expect(r.stderr).not.toContain('s3cret-pw');
  });
});
