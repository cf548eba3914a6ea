import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyControllerSchema, seedController } from '@tally/demo';
import { readWorkbook } from '@tally/reports';
import { createTestDatabase, type TestDatabase } from '@tally/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

// The METRICS_UTILITY_* contract where it is easy to get subtly different from metrics-utility.
let tdb: TestDatabase;
let db: pg.Client;
let dir: string;

const cli = (argv: string[], env: Record<string, string | undefined> = {}) => runCli(argv, env, dir);

/** Members of every tarball under `{shipPath}/data`, by collector file name. */
function shippedMembers(shipPath: string): Set<string> {
  const out = new Set<string>();
  const data = join(shipPath, 'data');
  for (const f of readdirSync(data, { recursive: true }).map(String).filter((n) => n.endsWith('.tar.gz'))) {
    for (const m of execFileSync('tar', ['tzf', join(data, f)], { encoding: 'utf8' }).split('\n')) if (m) out.add(m.replace(/^\.\//, ''));
  }
  return out;
}

/** One usage error: exit 2, one line on stderr. */
function expectUsageError(r: { code: number; stderr: string }, message: RegExp | string) {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(message);
}

beforeAll(async () => {
  tdb = await createTestDatabase('cli_env_contract');
  db = await tdb.client();
  await applyControllerSchema(db);
  await seedController(db, { days: 2, jobsPerDay: 4, hosts: 10, orgs: 1, seed: 5, end: new Date('2024-03-11T00:00:00Z'), hostsPerJob: 3 });
  dir = mkdtempSync(join(tmpdir(), 'tally-env-contract-'));
});
afterAll(async () => {
  await db?.end();
  await tdb?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('METRICS_UTILITY_OPTIONAL_COLLECTORS and _CCSP_REPORT_SHEETS set but empty', () => {
  it('an empty METRICS_UTILITY_OPTIONAL_COLLECTORS gathers no optional collector; unset gathers main_jobevent', async () => {
    const window = ['--since', '2024-03-10', '--until', '2024-03-11'];
    const none = join(dir, 'ship-none');
    const env = { DATABASE_URL: tdb.url, METRICS_UTILITY_SHIP_TARGET: 'directory' };
    const r1 = await cli(['gather', '--ship', ...window], { ...env, METRICS_UTILITY_SHIP_PATH: none, METRICS_UTILITY_OPTIONAL_COLLECTORS: '' });
    expect(r1.code, r1.stderr).toBe(0);
    expect(shippedMembers(none)).toContain('job_host_summary.csv');
    expect(shippedMembers(none)).not.toContain('main_jobevent.csv');
    const dflt = join(dir, 'ship-default');
    const r2 = await cli(['gather', '--ship', ...window], { ...env, METRICS_UTILITY_SHIP_PATH: dflt });
    expect(r2.code, r2.stderr).toBe(0);
    expect(shippedMembers(dflt)).toContain('main_jobevent.csv');
  });

  it('an empty METRICS_UTILITY_OPTIONAL_CCSP_REPORT_SHEETS is refused for CCSP and CCSPv2 (exit 2), as the reference validation does', async () => {
    const ship = mkdtempSync(join(dir, 'report-'));
    for (const type of ['CCSP', 'CCSPv2']) {
      const r = await cli(['report', '--month', '2024-03'], {
        METRICS_UTILITY_SHIP_TARGET: 'directory',
        METRICS_UTILITY_SHIP_PATH: ship,
        METRICS_UTILITY_REPORT_TYPE: type,
        METRICS_UTILITY_OPTIONAL_CCSP_REPORT_SHEETS: '',
      });
      expectUsageError(r, `Invalid METRICS_UTILITY_OPTIONAL_CCSP_REPORT_SHEETS for ${type}: it is empty. Valid values: ccsp_summary`);
    }
  });

  it('an empty METRICS_UTILITY_OPTIONAL_CCSP_REPORT_SHEETS leaves Renewal Guidance its Usage Reporting sheet only (the reference does not validate it there)', async () => {
    const sheetsOf = async (sheets: string | undefined) => {
      const ship = mkdtempSync(join(dir, 'renewal-sheets-'));
      const r = await cli(['report', '--since', '2024-01-01'], {
        DATABASE_URL: tdb.url,
        METRICS_UTILITY_SHIP_TARGET: 'controller_db',
        METRICS_UTILITY_SHIP_PATH: ship,
        METRICS_UTILITY_REPORT_TYPE: 'RENEWAL_GUIDANCE',
        METRICS_UTILITY_OPTIONAL_CCSP_REPORT_SHEETS: sheets,
      });
      expect(r.code, r.stderr).toBe(0);
      const [file] = readdirSync(ship, { recursive: true }).map(String).filter((f) => f.endsWith('.xlsx'));
      return (await readWorkbook(join(ship, file!))).worksheets.map((w) => w.name);
    };
    expect(await sheetsOf('')).toEqual(['Usage Reporting']);
    expect(await sheetsOf(undefined)).toContain('Managed nodes');
  });
});

describe('METRICS_UTILITY_OPTIONAL_COLLECTORS names', () => {
  it('a name that is not an optional collector of the registry stops gather before it connects: exit 2, one line', async () => {
    const ship = join(dir, 'ship-bad-names');
    const base = { DATABASE_URL: 'postgres://127.0.0.1:1/unreachable', METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: ship };
    const r = await cli(['gather', '--ship'], { ...base, METRICS_UTILITY_OPTIONAL_COLLECTORS: 'main_jobevent,main_jobevents' });
    expectUsageError(r, /^tally: Invalid METRICS_UTILITY_OPTIONAL_COLLECTORS: main_jobevents\. Valid values: main_jobevent, .*main_host_daily/);
    // job_host_summary is gathered unless disabled, not named here (the reference refuses it as well).
    expectUsageError(await cli(['gather', '--dry-run'], { ...base, METRICS_UTILITY_OPTIONAL_COLLECTORS: 'job_host_summary' }), /: job_host_summary\. Valid values/);
    // --collectors chooses the run's collectors, but the variable is still checked.
    expectUsageError(await cli(['gather', '--ship', '--collectors', 'job_host_summary'], { ...base, METRICS_UTILITY_OPTIONAL_COLLECTORS: 'nope' }), /: nope\. Valid values/);
    expect(existsSync(ship)).toBe(false);
  });

  it('--collectors naming job_host_summary with an optional collector still gathers both', async () => {
    const ship = join(dir, 'ship-subset');
    const env = { DATABASE_URL: tdb.url, METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: ship };
    const r = await cli(['gather', '--ship', '--since', '2024-03-10', '--until', '2024-03-11', '--collectors', 'job_host_summary,main_host_daily'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(shippedMembers(ship)).toEqual(new Set(['job_host_summary.csv', 'main_host_daily.csv', 'config.json', 'manifest.json', 'data_collection_status.csv']));
  });
});

describe('METRICS_UTILITY_DISABLE_SAVE_LAST_GATHERED_ENTRIES', () => {
  it('ships the window but leaves every watermark as it was; without it the same run moves them', async () => {
    const own = await createTestDatabase('cli_env_keep_marks');
    const client = await own.client();
    try {
      await applyControllerSchema(client);
      await seedController(client, { days: 2, jobsPerDay: 4, hosts: 10, orgs: 1, seed: 7, end: new Date('2024-03-11T00:00:00Z'), hostsPerJob: 3 });
      const marks = async () => {
        const { rows } = await client.query<{ key: string; watermark: Date | null }>(
          "SELECT key, watermark FROM tally_gather_state WHERE watermark IS NOT NULL ORDER BY key",
        );
        return Object.fromEntries(rows.map((r) => [r.key, r.watermark!.toISOString()]));
      };
      const ship = join(dir, 'ship-keep-marks');
      const env = { DATABASE_URL: own.url, METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: ship };
      const keep = { ...env, METRICS_UTILITY_DISABLE_SAVE_LAST_GATHERED_ENTRIES: 'true' };

      // A backfill on a fresh controller: shipped, and no watermark at all afterwards.
      const r1 = await cli(['gather', '--ship', '--since', '2024-03-09', '--until', '2024-03-11'], keep);
      expect(r1.code, r1.stderr).toBe(0);
      expect(shippedMembers(ship)).toContain('job_host_summary.csv');
      expect(await marks()).toEqual({});

      // The scheduled run puts them at its until …
      expect((await cli(['gather', '--ship', '--since', '2024-03-10', '--until', '2024-03-11'], env)).code).toBe(0);
      const scheduled = { job_host_summary: '2024-03-11T00:00:00.000Z', main_jobevent: '2024-03-11T00:00:00.000Z' };
      expect(await marks()).toEqual(scheduled);
      // … a later window chained on them moves nothing while the variable is set ('1' reads as true too) …
      const later = ['gather', '--ship', '--until', '2024-03-12'];
      const r3 = await cli(later, { ...env, METRICS_UTILITY_DISABLE_SAVE_LAST_GATHERED_ENTRIES: '1' });
      expect(r3.code, r3.stderr).toBe(0);
      expect(readdirSync(join(ship, 'data', '2024', '03', '11'))).not.toHaveLength(0);
      expect(await marks()).toEqual(scheduled);
      // … and the same run without it does.
      expect((await cli(later, { ...env, METRICS_UTILITY_DISABLE_SAVE_LAST_GATHERED_ENTRIES: 'false' })).code).toBe(0);
      expect(await marks()).toEqual({ job_host_summary: '2024-03-12T00:00:00.000Z', main_jobevent: '2024-03-12T00:00:00.000Z' });
    } finally {
      await client.end();
      await own.drop();
    }
  });
});

describe('--since/--until spellings', () => {
  it('every command that takes a time accepts the reference units (d|day|days, m|min|minute|minutes, mo|mon|month|months) and refuses hours and weeks', async () => {
    const db = ['--db', 'postgres://127.0.0.1:1/unreachable'];
    const commands: string[][] = [
      ['gather', '--dry-run', ...db],
      ['collect', '--query', 'q.json', '--target', 't.json', ...db],
      ['rollup', '--period', 'day'],
      ['report'],
      ['status', ...db],
    ];
    for (const cmd of commands) {
      for (const [since, until] of [['2days', '10minutes'], ['3mon', '1day'], ['1month', '5min']]) {
        const r = await cli([...cmd, '--since', since!, '--until', until!], { METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: join(dir, 'nowhere') });
        expect(r.stderr, `${cmd[0]} ${since} ${until}`).not.toMatch(/not understood/);
      }
      for (const bad of ['2h', '1w']) {
        expectUsageError(await cli([...cmd, '--since', bad]), `'--since <when>' argument '${bad}' is invalid. "${bad}" is not understood`);
      }
    }
    expectUsageError(await cli(['schedule', '--once', ...db, '--until-lag', '2hours']), /--until-lag.*"2hours" is not understood/);
    expect((await cli(['schedule', '--once', ...db, '--until-lag', '10minutes'])).stderr).not.toMatch(/not understood/);
  });

  it('gather --since 2days --until 10minutes means yesterday 00:00 UTC up to ten minutes ago', async () => {
    const r = await cli(['gather', '--dry-run', '--since', '2days', '--until', '10minutes', '--collectors', 'job_host_summary'], { DATABASE_URL: tdb.url });
    const after = Date.now();
    expect(r.code, r.stderr).toBe(0);
    const stamps = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((p) => /-(\d{4}-\d{2}-\d{2}-\d{6})\+0000-(\d{4}-\d{2}-\d{2}-\d{6})\+0000-\d+\.tar\.gz$/.exec(p)!.slice(1, 3));
    const stamp = (d: Date) => d.toISOString().replace(/T(\d{2}):(\d{2}):(\d{2}).*/, '-$1$2$3');
    const today = new Date(Math.floor(after / 86_400_000) * 86_400_000);
    expect(stamps[0]![0]).toBe(stamp(new Date(today.getTime() - 86_400_000)));
    const until = Date.parse(stamps.at(-1)![1]!.replace(/^(\d{4}-\d{2}-\d{2})-(\d{2})(\d{2})(\d{2})$/, '$1T$2:$3:$4Z'));
    expect(after - until).toBeGreaterThanOrEqual(10 * 60_000 - 1000);
    expect(after - until).toBeLessThan(11 * 60_000);
    rmSync(join(r.stdout.split('\n')[0]!, '..', '..', '..', '..', '..'), { recursive: true, force: true });
  });
});

describe('tally report settings', () => {
  it('METRICS_UTILITY_REPORT_TYPE unset builds CCSPv2, as the newest reference', async () => {
    const ship = mkdtempSync(join(dir, 'report-type-'));
    mkdirSync(join(ship, 'reports', '2024', '03'), { recursive: true });
    writeFileSync(join(ship, 'reports', '2024', '03', 'CCSPv2-2024-03.xlsx'), 'a workbook');
    const r = await cli(['report', '--month', '2024-03'], { METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: ship });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Skipping report generation, report: reports/2024/03/CCSPv2-2024-03.xlsx already exists');
    // Set, the value is still checked, case and all (as the reference).
    const bad = await cli(['report', '--month', '2024-03'], { METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: ship, METRICS_UTILITY_REPORT_TYPE: 'ccspv2' });
    expectUsageError(bad, 'METRICS_UTILITY_REPORT_TYPE="ccspv2" is invalid; expected CCSP, CCSPv2 or RENEWAL_GUIDANCE');
  });

  it('a METRICS_UTILITY_SHIP_PATH that is not an existing directory is refused (exit 2) for directory and controller_db, as validate_ship_path', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    for (const [path, extra] of [
      [join(dir, 'no-such-dir'), {}],
      [file, {}],
      [join(dir, 'no-such-dir'), { METRICS_UTILITY_SHIP_TARGET: 'controller_db', METRICS_UTILITY_REPORT_TYPE: 'RENEWAL_GUIDANCE' }],
    ] as const) {
      const r = await cli(['report', ...('METRICS_UTILITY_REPORT_TYPE' in extra ? ['--since', '12mo'] : ['--month', '2024-03'])], {
        METRICS_UTILITY_SHIP_TARGET: 'directory',
        METRICS_UTILITY_SHIP_PATH: path,
        ...extra,
      });
      expectUsageError(r, `tally: Invalid METRICS_UTILITY_SHIP_PATH: ${path} is not an existing directory.`);
    }
    expect(existsSync(join(dir, 'no-such-dir'))).toBe(false);
  });

  it('an empty range or month prints the reference wording: No billing data for input date range {since}--{until} / for month {YYYY-MM}', async () => {
    const ship = mkdtempSync(join(dir, 'report-empty-'));
    const env = { METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: ship };
    const range = await cli(['report', '--since', '2023-01-01', '--until', '2023-01-15'], env);
    expect(range.code, range.stderr).toBe(0);
    expect(range.stdout).toBe('No billing data for input date range 2023-01-01--2023-01-15\n');
    const month = await cli(['report', '--month', '2023-01'], env);
    expect(month.stdout).toBe('No billing data for month 2023-01\n');
    // Renewal Guidance always has a range: --since 1d (today) finds no host automated since.
    const renewal = await cli(['report', '--since', '1d'], {
      ...env,
      DATABASE_URL: tdb.url,
      METRICS_UTILITY_SHIP_TARGET: 'controller_db',
      METRICS_UTILITY_REPORT_TYPE: 'RENEWAL_GUIDANCE',
    });
    const today = new Date().toISOString().slice(0, 10);
    expect(renewal.code, renewal.stderr).toBe(0);
    expect(renewal.stdout).toContain(`No billing data for input date range ${today}--${today}\n`);
  });
});

describe('boolean variables', () => {
  it('a value metrics-utility reads as false but that looks true (yes, " true") is refused, never read as true; TRUE and 1 are true', async () => {
    const base = { DATABASE_URL: 'postgres://127.0.0.1:1/unreachable', METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: join(dir, 'ship-bools') };
    for (const v of ['yes', ' true']) {
      const r = await cli(['gather', '--ship'], { ...base, METRICS_UTILITY_DISABLE_JOB_HOST_SUMMARY_COLLECTOR: v });
      expectUsageError(r, `METRICS_UTILITY_DISABLE_JOB_HOST_SUMMARY_COLLECTOR=${JSON.stringify(v)} is invalid; expected true or 1, or false, 0 or no`);
    }
    // TRUE disables job_host_summary: with no optional collector left, nothing is gathered.
    const ship = join(dir, 'ship-bools-true');
    const r = await cli(['gather', '--dry-run', '--since', '2024-03-10', '--until', '2024-03-11'], {
      DATABASE_URL: tdb.url,
      METRICS_UTILITY_DISABLE_JOB_HOST_SUMMARY_COLLECTOR: 'TRUE',
      METRICS_UTILITY_OPTIONAL_COLLECTORS: 'main_host_daily',
      METRICS_UTILITY_SHIP_PATH: ship,
    });
    expect(r.code, r.stderr).toBe(0);
    const files = r.stdout.split('\n').filter(Boolean);
    const members = new Set(files.flatMap((f) => execFileSync('tar', ['tzf', f], { encoding: 'utf8' }).split('\n').filter(Boolean)));
    expect([...members].some((m) => m.includes('job_host_summary'))).toBe(false);
    expect([...members].some((m) => m.includes('main_host_daily'))).toBe(true);
    rmSync(join(files[0]!, '..', '..', '..', '..', '..'), { recursive: true, force: true });
  });
});

describe('METRICS_UTILITY_MAX_GATHER_PERIOD_DAYS', () => {
  it('0 is accepted and gathers no windowed collector (No analytics collected, exit 1); 3651 is refused (exit 2)', async () => {
    const env = { DATABASE_URL: tdb.url, METRICS_UTILITY_SHIP_PATH: join(dir, 'ship-zero') };
    const zero = await cli(['gather', '--dry-run', '--since', '2024-03-10', '--until', '2024-03-11', '--collectors', 'job_host_summary'], { ...env, METRICS_UTILITY_MAX_GATHER_PERIOD_DAYS: '0' });
    expect(zero.code, zero.stderr).toBe(1);
    expect(zero.stderr).toMatch(/No analytics collected/);
    expect(zero.stdout).toBe('');
    const big = await cli(['gather', '--dry-run'], { ...env, METRICS_UTILITY_MAX_GATHER_PERIOD_DAYS: '3651' });
    expectUsageError(big, 'METRICS_UTILITY_MAX_GATHER_PERIOD_DAYS="3651" is invalid; expected a whole number of days from 0 to 3650');
  });
});
