import { untilSlicing } from '@tally/collectors';
import { ConfigError, type Logger } from '@tally/core';
import { selectCollectors } from '@tally/gather';
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
    expect(() => resolveWindow({ now, maxDays: 0 })).toThrow(/max gather period 0/);
  });
});

describe('sliceWindow', () => {
  const w = { since: D('2024-03-01T12:00:00Z'), until: D('2024-03-03T06:00:00Z') };
  it('cuts daily at UTC midnights, limit as one slice, custom by the function; empty windows give nothing', () => {
    expect(sliceWindow('daily', w).map((s) => [s.since.toISOString(), s.until.toISOString()])).toEqual([
      ['2024-03-01T12:00:00.000Z', '2024-03-02T00:00:00.000Z'],
      ['2024-03-02T00:00:00.000Z', '2024-03-03T00:00:00.000Z'],
      ['2024-03-03T00:00:00.000Z', '2024-03-03T06:00:00.000Z'],
    ]);
    expect(sliceWindow('limit', w)).toEqual([w]);
    expect(sliceWindow((x) => [x, { since: x.until, until: x.until }], w)).toEqual([w]);
    expect(sliceWindow('daily', { since: w.until, until: w.until })).toEqual([]);
    expect(sliceWindow(untilSlicing, w)).toEqual([{ since: new Date(w.until.getTime() - 1000), until: w.until }]);
  });
});

describe('selectCollectors and tarballIndex', () => {
  it('drops config, optional collectors not named, and job_host_summary when disabled', () => {
    const opt = (key: string) => jsonCollector(key, {}, { optional: true } as never);
    const all = [configCollector(), dailyCsv('job_host_summary'), opt('main_jobevent'), opt('main_host')];
    expect(selectCollectors(all).map((c) => c.meta.key)).toEqual(['job_host_summary', 'main_jobevent']);
    expect(selectCollectors(all, { optionalCollectors: ['main_host'], disableJobHostSummary: true }).map((c) => c.meta.key)).toEqual(['main_host']);
  });

  it('gives each key its own stable index range', () => {
    expect(tarballIndex('job_host_summary', 0)).toBe(tarballIndex('job_host_summary', 0));
    expect(tarballIndex('job_host_summary', 1)).toBe(tarballIndex('job_host_summary', 0) + 1);
    const keys = ['config', 'job_host_summary', 'main_jobevent', 'main_host', 'main_host_daily', 'unified_jobs', 'total_workers_vcpu', 'execution_environments', 'main_indirectmanagednodeaudit', 'job_host_summary_service', 'main_jobevent_service', 'main_hostmetric', 'credentials_service', 'controller_version_service', 'table_metadata'];
    expect(new Set(keys.map((k) => Math.floor(tarballIndex(k, 0) / 10_000))).size).toBe(keys.length);
  });
});
