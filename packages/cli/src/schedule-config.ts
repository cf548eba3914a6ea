import { readFileSync } from 'node:fs';
import { ConfigError } from '@tally/core';
import { parseCron } from './cron.js';
import type { ScheduledCollector } from './schedule-store.js';

/** metrics-utility's hourly gather ran from cron a few minutes past the hour. */
export const DEFAULT_CRON = '5 * * * *';

/**
 * Read a schedule file:
 * `{"collectors": {"job_host_summary": {"cron": "5 * * * *", "dependsOn": [], "enabled": true}}}`.
 * Every problem names the file and the collector.
 */
export function readScheduleFile(path: string): ScheduledCollector[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`schedule file ${path}: ${(err as Error).message}`, { field: 'schedule' });
  }
  return parseScheduleConfig(raw, path);
}

export function parseScheduleConfig(raw: unknown, source = 'schedule'): ScheduledCollector[] {
  const collectors = (raw as { collectors?: unknown } | null)?.collectors;
  if (!collectors || typeof collectors !== 'object' || Array.isArray(collectors)) {
    throw new ConfigError(`${source}: expected {"collectors": {"<key>": {"cron": "…"}}}`, { field: 'schedule' });
  }
  const out: ScheduledCollector[] = [];
  for (const [key, value] of Object.entries(collectors as Record<string, unknown>)) {
    const v = (value ?? {}) as { cron?: unknown; dependsOn?: unknown; enabled?: unknown };
    const cron = v.cron ?? DEFAULT_CRON;
    if (typeof cron !== 'string') throw new ConfigError(`${source}: ${key}.cron must be a string such as "5 * * * *"`, { field: 'schedule' });
    try {
      parseCron(cron);
    } catch (err) {
      throw new ConfigError(`${source}: ${key}.${(err as Error).message}`, { field: 'schedule' });
    }
    const dependsOn = v.dependsOn ?? [];
    if (!Array.isArray(dependsOn) || dependsOn.some((d) => typeof d !== 'string')) {
      throw new ConfigError(`${source}: ${key}.dependsOn must be a list of collector keys`, { field: 'schedule' });
    }
    if (v.enabled !== undefined && typeof v.enabled !== 'boolean') {
      throw new ConfigError(`${source}: ${key}.enabled must be true or false`, { field: 'schedule' });
    }
    out.push({ key, cron, dependsOn: dependsOn as string[], enabled: v.enabled ?? true });
  }
  if (!out.length) throw new ConfigError(`${source}: no collectors are scheduled`, { field: 'schedule' });
  return out;
}

/** Every enabled collector, hourly at five past, without dependencies. */
export function defaultSchedule(keys: readonly string[]): ScheduledCollector[] {
  return keys.map((key) => ({ key, cron: DEFAULT_CRON, dependsOn: [], enabled: true }));
}
