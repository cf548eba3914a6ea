import { Writable } from 'node:stream';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, createLogger, loadConfig, requireConfig } from '@tally/core';
import { describeConfig } from '../src/config.js';
import { redact } from '../src/logger.js';

describe('loadConfig', () => {
  it('with keys, reads and validates only those settings (what a backend fromEnv reads)', () => {
    const env = { METRICS_UTILITY_SHIP_PATH: '/srv', METRICS_UTILITY_BUCKET_ENDPOINT: 'not a url', TALLY_DUCKDB_THREADS: '4' };
    expect(loadConfig({ env, keys: ['shipPath', 'duckdbThreads'] })).toEqual({ shipPath: '/srv', duckdbThreads: 4 });
    expect(() => loadConfig({ env, keys: ['bucketEndpoint'] })).toThrow('METRICS_UTILITY_BUCKET_ENDPOINT="not a url" is invalid; expected a URL such as https://s3.example.com');
  });

  it('TALLY_DUCKDB_MEMORY_LIMIT is a size and TALLY_DUCKDB_THREADS a whole number, each refused in one line', () => {
    expect(loadConfig({ env: { TALLY_DUCKDB_MEMORY_LIMIT: '768MB' } }).duckdbMemoryLimit).toBe('768MB');
    expect(() => loadConfig({ env: { TALLY_DUCKDB_MEMORY_LIMIT: 'lots' } })).toThrow('TALLY_DUCKDB_MEMORY_LIMIT="lots" is invalid; expected a size such as 768MB or 2GiB');
    expect(() => loadConfig({ env: { TALLY_DUCKDB_THREADS: '0' } })).toThrow('TALLY_DUCKDB_THREADS="0" is invalid; expected a whole number of threads, e.g. 2');
  });

  it("reads Prometheus's CA as metrics-utility names it, METRICS_UTILITY_PROMETHEUS_CA_CERT_PATH, and Tally's first name as an alias", () => {
    const CERT = 'METRICS_UTILITY_PROMETHEUS_CA_CERT_PATH';
    const OLD = 'METRICS_UTILITY_PROMETHEUS_CA_PATH';
    const ca = (env: Record<string, string>) => loadConfig({ env }).prometheusCaPath;
    expect(ca({ [CERT]: '/a.crt' })).toBe('/a.crt');
    expect(ca({ [OLD]: '/b.crt' })).toBe('/b.crt');
    // Both set: metrics-utility's name wins.
    expect(ca({ [CERT]: '/a.crt', [OLD]: '/b.crt' })).toBe('/a.crt');
    // Set but empty is kept (the collector then keeps TLS verification on and warns), and wins over the alias.
    expect(ca({ [CERT]: '' })).toBe('');
    expect(ca({ [CERT]: '', [OLD]: '/b.crt' })).toBe('');
    expect(ca({ [OLD]: '' })).toBe('');
    expect(ca({})).toBeUndefined();
    // The token and URL are read under metrics-utility's names.
    const cfg = loadConfig({ env: { METRICS_UTILITY_PROMETHEUS_TOKEN: 'tok', METRICS_UTILITY_PROMETHEUS_URL: 'https://prom:9091' } });
    expect(cfg).toMatchObject({ prometheusToken: 'tok', prometheusUrl: 'https://prom:9091' });
    // A config file may use the key or either name; the environment wins.
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-ca-'));
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ [OLD]: '/file.crt' }));
    expect(loadConfig({ env: {}, file }).prometheusCaPath).toBe('/file.crt');
    expect(loadConfig({ env: { [CERT]: '/env.crt' }, file }).prometheusCaPath).toBe('/env.crt');
  });

  it('reads METRICS_UTILITY_* variables with their types', () => {
    const cfg = loadConfig({
      env: {
        METRICS_UTILITY_SHIP_TARGET: 's3',
        METRICS_UTILITY_SHIP_PATH: '/var/lib/tally',
        METRICS_UTILITY_MAX_GATHER_PERIOD_DAYS: '14',
        METRICS_UTILITY_OPTIONAL_COLLECTORS: ' main_jobevent, ,main_host,\t',
        METRICS_UTILITY_DISABLE_JOB_HOST_SUMMARY_COLLECTOR: 'TRUE',
        METRICS_UTILITY_PRICE_PER_NODE: '11.55',
        METRICS_UTILITY_REPORT_TYPE: 'CCSPv2',
        REPORT_RENEWAL_GUIDANCE_DEDUP_ITERATIONS: '3',
      },
    });
    expect(cfg).toMatchObject({
      shipTarget: 's3',
      shipPath: '/var/lib/tally',
      maxGatherPeriodDays: 14,
      optionalCollectors: ['main_jobevent', 'main_host'],
      disableJobHostSummary: true,
      pricePerNode: 11.55,
      reportType: 'CCSPv2',
      renewalDedupIterations: 3,
    });
  });

  it('an empty METRICS_UTILITY_OPTIONAL_COLLECTORS or _CCSP_REPORT_SHEETS is an empty list, not the default; other empty values read as unset', () => {
    const cfg = loadConfig({ env: { METRICS_UTILITY_OPTIONAL_COLLECTORS: '', METRICS_UTILITY_OPTIONAL_CCSP_REPORT_SHEETS: '', METRICS_UTILITY_SHIP_PATH: '' } });
    expect(cfg.optionalCollectors).toEqual([]);
    expect(cfg.optionalCcspReportSheets).toEqual([]);
    expect('shipPath' in cfg).toBe(false);
    // As the reference's filter(bool, ….strip(', \t').split(',')): separators alone name nothing either.
    expect(loadConfig({ env: { METRICS_UTILITY_OPTIONAL_COLLECTORS: ' , ' } }).optionalCollectors).toEqual([]);
    const unset = loadConfig({ env: {} });
    expect('optionalCollectors' in unset).toBe(false);
    expect('optionalCcspReportSheets' in unset).toBe(false);
    // Set but empty in the environment wins over the file, as any set value does.
    const dir = mkdtempSync(join(tmpdir(), 'tally-cfg-'));
    const file = join(dir, 'tally.json');
    writeFileSync(file, JSON.stringify({ optionalCollectors: ['main_host'] }));
    expect(loadConfig({ file, env: { METRICS_UTILITY_OPTIONAL_COLLECTORS: '' } }).optionalCollectors).toEqual([]);
    expect(loadConfig({ file, env: {} }).optionalCollectors).toEqual(['main_host']);
  });

  it('METRICS_UTILITY_MAX_DATA_SIZE is a size, refused naming the variable; METRICS_UTILITY_PROMETHEUS_TOKEN is a secret', () => {
    expect(loadConfig({ env: { METRICS_UTILITY_MAX_DATA_SIZE: ' 100M ' } }).maxDataSize).toBe('100M');
    expect(() => loadConfig({ env: { METRICS_UTILITY_MAX_DATA_SIZE: 'lots' } })).toThrow('METRICS_UTILITY_MAX_DATA_SIZE="lots" is invalid; expected a size such as 100M');
    const cfg = loadConfig({ env: { METRICS_UTILITY_PROMETHEUS_TOKEN: 'sha256~very-secret', METRICS_UTILITY_PROMETHEUS_CA_PATH: '/etc/pki/prom-ca.pem' } });
    expect(cfg).toMatchObject({ prometheusToken: 'sha256~very-secret', prometheusCaPath: '/etc/pki/prom-ca.pem' });
    expect(JSON.stringify(describeConfig(cfg))).not.toContain('very-secret');
  });

  it('METRICS_UTILITY_MAX_GATHER_PERIOD_DAYS is 0 to 3650, as the reference validation', () => {
    const days = (v: string) => loadConfig({ env: { METRICS_UTILITY_MAX_GATHER_PERIOD_DAYS: v } }).maxGatherPeriodDays;
    expect(['0', '28', '3650'].map(days)).toEqual([0, 28, 3650]);
    for (const v of ['3651', '-1', '1.5', '28d']) {
      expect(() => days(v), v).toThrow(`METRICS_UTILITY_MAX_GATHER_PERIOD_DAYS=${JSON.stringify(v)} is invalid; expected a whole number of days from 0 to 3650`);
    }
  });

  it('reports every invalid value in one error, one line per variable, naming what is accepted', () => {
    let err: unknown;
    try {
      loadConfig({ env: { METRICS_UTILITY_SHIP_TARGET: 'ftp', METRICS_UTILITY_MAX_GATHER_PERIOD_DAYS: 'ten', METRICS_UTILITY_PRICE_PER_NODE: 'cheap' } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const lines = (err as Error).message.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^METRICS_UTILITY_SHIP_TARGET="ftp" is invalid; expected directory, s3, crc/);
    expect(lines[1]).toMatch(/^METRICS_UTILITY_MAX_GATHER_PERIOD_DAYS="ten" is invalid; expected a whole number of days/);
    expect(lines[2]).toMatch(/^METRICS_UTILITY_PRICE_PER_NODE="cheap" is invalid; expected a finite number/);
    expect((err as ConfigError).exitCode).toBe(2);
  });

  it('never echoes an invalid secret value', () => {
    expect(() => loadConfig({ env: { METRICS_UTILITY_BUCKET_ENDPOINT: 'not a url' } })).toThrow(/BUCKET_ENDPOINT="not a url"/);
    const cfg = loadConfig({ env: { METRICS_UTILITY_BUCKET_SECRET_KEY: 'hunter2-very-secret' } });
    expect(JSON.stringify(describeConfig(cfg))).not.toContain('hunter2');
  });

  it('reads an optional JSON config file; the environment wins', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-cfg-'));
    const file = join(dir, 'tally.json');
    writeFileSync(file, JSON.stringify({ shipPath: '/from/file', METRICS_UTILITY_REPORT_TYPE: 'CCSP', maxGatherPeriodDays: 7 }));
    const cfg = loadConfig({ file, env: { METRICS_UTILITY_SHIP_PATH: '/from/env' } });
    expect(cfg).toMatchObject({ shipPath: '/from/env', reportType: 'CCSP', maxGatherPeriodDays: 7 });
    writeFileSync(file, '{oops');
    expect(() => loadConfig({ file, env: {} })).toThrow(/is not valid JSON/);
    expect(() => loadConfig({ file: join(dir, 'missing.json'), env: {} })).toThrow(/does not exist/);
  });

  it('splits the organization filter on semicolons as metrics-utility does: names may hold commas, trailing semicolons go, spaces stay', () => {
    const filter = (v: string) => loadConfig({ env: { METRICS_UTILITY_ORGANIZATION_FILTER: v } }).organizationFilter;
    expect(filter('Acme, Inc.; Default ;')).toEqual(['Acme, Inc.', ' Default ']);
    expect(filter('O1; O2')).toEqual(['O1', ' O2']);
    expect(filter('O1;O2;;')).toEqual(['O1', 'O2']);
    expect(filter('O1;;O2')).toEqual(['O1', '', 'O2']);
    // `;` alone: rstrip leaves '', split gives [''], which no organization matches.
    expect(filter(';')).toEqual(['']);
    expect(filter('')).toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), 'tally-cfg-'));
    const file = join(dir, 'tally.json');
    writeFileSync(file, JSON.stringify({ organizationFilter: ['Acme, Inc.', 'Default'], optionalCcspReportSheets: ['jobs', 'managed_nodes'] }));
    expect(loadConfig({ file, env: {} })).toMatchObject({ organizationFilter: ['Acme, Inc.', 'Default'], optionalCcspReportSheets: ['jobs', 'managed_nodes'] });
  });

  it('parses each kind of value: booleans, URLs, whole numbers, and refuses a file value that is not text', () => {
    const bools = (v: string) => loadConfig({ env: { METRICS_UTILITY_DISABLE_JOB_HOST_SUMMARY_COLLECTOR: v } }).disableJobHostSummary;
    expect(['TRUE', 'True', '1', 'No', '0', 'false', 'FALSE'].map(bools)).toEqual([true, true, true, false, false, false, false]);
    expect(() => bools('constructor')).toThrow('METRICS_UTILITY_DISABLE_JOB_HOST_SUMMARY_COLLECTOR="constructor" is invalid; expected true or 1, or false, 0 or no');
    // The reference (bool_from_env) reads these as false: never read them as true.
    for (const v of ['yes', 'Yes', ' true', 'true ', 'on', 'y']) expect(() => bools(v), v).toThrow(/is invalid; expected true or 1/);
    expect(loadConfig({ env: { METRICS_UTILITY_BUCKET_ENDPOINT: ' https://s3.example.com:9000/b ' } }).bucketEndpoint).toBe('https://s3.example.com:9000/b');
    expect(() => loadConfig({ env: { TALLY_DUCKDB_THREADS: '99999999999999999999' } })).toThrow('expected a whole number of threads');
    expect(() => loadConfig({ env: { METRICS_UTILITY_REPORT_TYPE: 'ccspv2' } })).toThrow('expected CCSP, CCSPv2 or RENEWAL_GUIDANCE');
    expect(loadConfig({ env: { TALLY_DUCKDB_MEMORY_LIMIT: ' 2 GiB ' } }).duckdbMemoryLimit).toBe('2 GiB');
    const dir = mkdtempSync(join(tmpdir(), 'tally-cfg-'));
    const file = join(dir, 'tally.json');
    writeFileSync(file, JSON.stringify({ shipPath: { nested: true } }));
    expect(() => loadConfig({ file, env: {} })).toThrow(`${file}: shipPath={"nested":true} is invalid; expected a text`);
  });

  it('requireConfig names the missing variables', () => {
    expect(() => requireConfig({ shipTarget: 's3' }, ['bucketName', 'bucketEndpoint'], 'ship target s3')).toThrow(
      'ship target s3 needs METRICS_UTILITY_BUCKET_NAME, METRICS_UTILITY_BUCKET_ENDPOINT',
    );
  });
});

describe('logger', () => {
  const capture = (tty: boolean) => {
    const lines: string[] = [];
    const stream = Object.assign(new Writable({ write(c, _e, cb) { lines.push(String(c)); cb(); } }), { isTTY: tty });
    return { lines, stream };
  };
  it('writes JSON when not a TTY and redacts secret fields and registered secret values', () => {
    const { lines, stream } = capture(false);
    loadConfig({ env: { METRICS_UTILITY_SERVICE_ACCOUNT_SECRET: 'sa-secret-123456' } });
    const log = createLogger({ stream, level: 'info' });
    log.info('token sa-secret-123456 used', { password: 'p4ssw0rd', bucket: 'b', nested: { accessKey: 'AKIA1234' } });
    log.debug('dropped');
    expect(lines).toHaveLength(1);
    const rec = JSON.parse(lines[0]!);
    expect(rec).toMatchObject({ level: 'info', msg: 'token [redacted] used', password: '[redacted]', bucket: 'b', nested: { accessKey: '[redacted]' } });
    expect(lines[0]).not.toContain('p4ssw0rd');
  });
  it('is readable on a TTY', () => {
    const { lines, stream } = capture(true);
    createLogger({ stream }).child({ collector: 'job_host_summary' }).warn('slow', { rows: 10 });
    expect(lines[0]).toBe('WARN slow collector=job_host_summary rows=10\n');
  });
  it('redact leaves ordinary values alone and shows dates as ISO text', () => {
    expect(redact({ a: 1, token: '', list: ['x'] })).toEqual({ a: 1, token: '', list: ['x'] });
    expect(redact({ since: new Date('2024-03-01T00:00:00Z') })).toEqual({ since: '2024-03-01T00:00:00.000Z' });
  });
});
