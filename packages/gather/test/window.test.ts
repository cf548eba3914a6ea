import { controllerCollectors } from '@tally/collectors';
import { ConfigError, type Logger } from '@tally/core';
import { checkOptionalCollectors, selectCollectors } from '@tally/gather';
import { resolveWindow, sliceWindow } from '../src/window.js';
import { tarballIndex } from '../src/gather.js';
import { describe, expect, it } from 'vitest';
import { configCollector, dailyCsv, jsonCollector } from './helpers.js';

const now = new Date('2024-03-30T10:00:00Z');
const D = (s: string) => new Date(s);

function capture(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const l = { warnings, debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {}, child: () => l };
  return l;
}

describe('resolveWindow', () => {
  it('defaults until to now and leaves since to the watermarks, with a 28-day horizon', () => {
    const w = resolveWindow({ now });
    expect(w).toEqual({ until: now, horizon: D('2024-03-02T10:00:00Z'), notes: [] });
  });

  it('clamps future instants to now and logs it', () => {
    const log = capture();
    const w = resolveWindow({ now, since: D('2024-03-29T00:00:00Z'), until: D('2024-04-02T00:00:00Z'), logger: log });
    expect(w.until).toEqual(now);
    expect(w.since).toEqual(D('2024-03-29T00:00:00Z'));
    expect(log.warnings).toEqual(['until 2024-04-02T00:00:00.000Z is in the future; using now (2024-03-30T10:00:00.000Z)']);
  });

  it('with a since, until defaults to since + max (or now) and is capped there, logged', () => {
    expect(resolveWindow({ now, since: D('2024-01-01T00:00:00Z') }).until).toEqual(D('2024-01-29T00:00:00Z'));
    expect(resolveWindow({ now, since: D('2024-03-25T00:00:00Z') }).until).toEqual(now);
    const log = capture();
    const w = resolveWindow({ now, since: D('2024-01-01T00:00:00Z'), until: D('2024-03-01T00:00:00Z'), maxDays: 7, logger: log });
    expect(w.until).toEqual(D('2024-01-08T00:00:00Z'));
    expect(w.notes).toHaveLength(1);
    expect(log.warnings[0]).toMatch(/^window shortened: until 2024-03-01T00:00:00.000Z is more than 7 days after since/);
  });

  it('raises a since older than the horizon (until given alone keeps since open)', () => {
    const w = resolveWindow({ now, until: D('2024-03-10T00:00:00Z'), maxDays: 5 });
    expect(w.since).toBeUndefined();
    expect(w.horizon).toEqual(D('2024-03-05T00:00:00Z'));
  });

  it('rejects since after until and a bad max period with ConfigError', () => {
    expect(() => resolveWindow({ now, since: D('2024-03-10T00:00:00Z'), until: D('2024-03-09T00:00:00Z') })).toThrow(ConfigError);
    expect(() => resolveWindow({ now, maxDays: -1 })).toThrow(/max gather period -1/);
    expect(() => resolveWindow({ now, maxDays: 1.5 })).toThrow(/max gather period 1.5/);
  });

  it('a max period of 0 (the reference allows 0–3650) leaves an empty window: since = until = horizon', () => {
    const since = D('2024-03-10T00:00:00Z');
    expect(resolveWindow({ now, since, maxDays: 0 })).toMatchObject({ since, until: since, horizon: since });
    expect(resolveWindow({ now, maxDays: 0 })).toMatchObject({ until: now, horizon: now });
    expect(sliceWindow('daily', { since, until: since })).toEqual([]);
  });
});

describe('sliceWindow', () => {
  const w = { since: D('2024-03-01T12:00:00Z'), until: D('2024-03-03T06:00:00Z') };
  it('cuts daily at UTC midnights, limit as one instant at until − 1 s, custom by the function; empty windows give nothing', () => {
    expect(sliceWindow('daily', w).map((s) => [s.since.toISOString(), s.until.toISOString()])).toEqual([
      ['2024-03-01T12:00:00.000Z', '2024-03-02T00:00:00.000Z'],
      ['2024-03-02T00:00:00.000Z', '2024-03-03T00:00:00.000Z'],
      ['2024-03-03T00:00:00.000Z', '2024-03-03T06:00:00.000Z'],
    ]);
    // limit: the newest reference's until_slicing, one instant at the window's last second.
    expect(sliceWindow('limit', w)).toEqual([{ since: D('2024-03-03T05:59:59Z'), until: D('2024-03-03T05:59:59Z') }]);
    expect(sliceWindow('limit', { since: w.until, until: w.until })).toEqual([]);
    expect(sliceWindow((x) => [x, { since: x.until, until: x.until }], w)).toEqual([w]);
    expect(sliceWindow('daily', { since: w.until, until: w.until })).toEqual([]);
  });
});

describe('selectCollectors and tarballIndex', () => {
  it('drops config, optional collectors not named, and job_host_summary when disabled', () => {
    const opt = (key: string) => jsonCollector(key, {}, { optional: true } as never);
    const all = [configCollector(), dailyCsv('job_host_summary'), opt('main_jobevent'), opt('main_host')];
    expect(selectCollectors(all).map((c) => c.meta.key)).toEqual(['job_host_summary', 'main_jobevent']);
    expect(selectCollectors(all, { optionalCollectors: ['main_host'], disableJobHostSummary: true }).map((c) => c.meta.key)).toEqual(['main_host']);
  });

  it('refuses a named optional collector the collectors do not hold, with the reference message, reading the names from the collectors given', () => {
    const opt = (key: string) => jsonCollector(key, {}, { optional: true } as never);
    const all = [configCollector(), dailyCsv('job_host_summary'), opt('main_jobevent'), opt('main_host')];
    expect(() => selectCollectors(all, { optionalCollectors: ['main_host', 'bogus'] })).toThrow(
      'Invalid METRICS_UTILITY_OPTIONAL_COLLECTORS: bogus. Valid values: main_jobevent, main_host',
    );
    // Not optional: gathered unless disabled, so not a name for this list (the reference refuses it too).
    expect(() => checkOptionalCollectors(all, ['job_host_summary', 'config'])).toThrow(/: job_host_summary, config\. Valid values/);
    // A collector added to the set is a valid name at once.
    expect(selectCollectors([...all, opt('jobs_feed')], { optionalCollectors: ['jobs_feed'] }).map((c) => c.meta.key)).toEqual(['job_host_summary', 'jobs_feed']);
    // Unset: the default (main_jobevent) is not checked against a set that lacks it.
    expect(selectCollectors([configCollector(), dailyCsv('job_host_summary')]).map((c) => c.meta.key)).toEqual(['job_host_summary']);
  });

  it('selects feature_flags_service and task_executions_service from the controller registry; a typo is refused', () => {
    const picked = selectCollectors(controllerCollectors, { optionalCollectors: ['task_executions_service', 'feature_flags_service'] });
    expect(picked.map((c) => c.meta.key)).toEqual(['job_host_summary', 'feature_flags_service', 'task_executions_service']);
    expect(() => selectCollectors(controllerCollectors, { optionalCollectors: ['feature_flags_service', 'feature_flag_service'] })).toThrow(
      /^Invalid METRICS_UTILITY_OPTIONAL_COLLECTORS: feature_flag_service\. Valid values: .*, feature_flags_service, task_executions_service$/,
    );
  });

  it('gives each key its own stable index range', () => {
    expect(tarballIndex('job_host_summary', 0)).toBe(tarballIndex('job_host_summary', 0));
    expect(tarballIndex('job_host_summary', 1)).toBe(tarballIndex('job_host_summary', 0) + 1);
    const keys = ['config', 'job_host_summary', 'main_jobevent', 'main_host', 'main_host_daily', 'unified_jobs', 'total_workers_vcpu', 'execution_environments', 'main_indirectmanagednodeaudit', 'job_host_summary_service', 'main_jobevent_service', 'main_hostmetric', 'credentials_service', 'controller_version_service', 'table_metadata', 'feature_flags_service', 'task_executions_service'];
    expect(new Set(keys.map((k) => Math.floor(tarballIndex(k, 0) / 10_000))).size).toBe(keys.length);
  });
});
