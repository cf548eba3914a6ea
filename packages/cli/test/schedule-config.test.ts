import { describe, expect, it } from 'vitest';
import { DEFAULT_CRON, defaultSchedule, parseScheduleConfig } from '../src/schedule-config.js';

describe('schedule configuration', () => {
  it('reads cron, dependencies and enabled per collector, with defaults', () => {
    expect(
      parseScheduleConfig({ collectors: { a: { cron: '@daily' }, b: { dependsOn: ['a'], enabled: false } } }),
    ).toEqual([
      { key: 'a', cron: '@daily', dependsOn: [], enabled: true },
      { key: 'b', cron: DEFAULT_CRON, dependsOn: ['a'], enabled: false },
    ]);
    expect(defaultSchedule(['x'])).toEqual([{ key: 'x', cron: '5 * * * *', dependsOn: [], enabled: true }]);
  });

  it('names the file and the collector in every error', () => {
    expect(() => parseScheduleConfig({}, 's.json')).toThrow(/^s.json: expected \{"collectors"/);
    expect(() => parseScheduleConfig({ collectors: { a: { cron: '61 * * * *' } } }, 's.json')).toThrow(/s.json: a.cron "61 \* \* \* \*": minute 61/);
    expect(() => parseScheduleConfig({ collectors: { a: { dependsOn: 'b' } } }, 's.json')).toThrow(/a.dependsOn must be a list/);
    expect(() => parseScheduleConfig({ collectors: { a: { enabled: 'yes' } } }, 's.json')).toThrow(/a.enabled must be true or false/);
    expect(() => parseScheduleConfig({ collectors: {} }, 's.json')).toThrow(/no collectors are scheduled/);
  });
});
