import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError, parseInstant } from '@tally/core';
import { parseCron } from './cron.js';
import type { ScheduledCollector, UserCollector } from './schedule-store.js';

/** metrics-utility's hourly gather ran from cron a few minutes past the hour. */
export const DEFAULT_CRON = '5 * * * *';

/**
 * Read a schedule file:
 * `{"collectors": {"job_host_summary": {"cron": "5 * * * *", "dependsOn": [], "enabled": true}}}`.
 * A user collector also names its files, relative to the schedule file:
 * `"my_jobs": {"cron": "15 * * * *", "dependsOn": ["job_host_summary"], "query": "jobs.query.json",
 * "target": "target.json", "credentials": "db.json", "token": "token.json", "since": "7d"}`.
 * Every problem names the file and the collector.
 */
export function readScheduleFile(path: string): ScheduledCollector[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`schedule file ${path}: ${(err as Error).message}`, { field: 'schedule' });
  }
  return parseScheduleConfig(raw, path, dirname(resolve(path)));
}

const FILE_KEYS = ['query', 'target', 'credentials', 'token'] as const;

/** A user collector's files (paths relative to `baseDir`), or undefined for a built-in. */
function userCollector(key: string, v: Record<string, unknown>, source: string, baseDir: string): UserCollector | undefined {
  if (FILE_KEYS.every((k) => v[k] === undefined) && v.since === undefined) return undefined;
  const out: Partial<UserCollector> = {};
  for (const k of FILE_KEYS) {
    if (v[k] === undefined) continue;
    if (typeof v[k] !== 'string' || v[k] === '') throw new ConfigError(`${source}: ${key}.${k} must be a file path`, { field: 'schedule' });
    out[k] = resolve(baseDir, v[k] as string);
  }
  if (!out.query || !out.target) throw new ConfigError(`${source}: ${key} is a user collector: it needs "query" and "target" files (and usually "token")`, { field: 'schedule' });
  if (v.since !== undefined) {
    if (typeof v.since !== 'string') throw new ConfigError(`${source}: ${key}.since must be an instant such as "7d" or "2024-03-01"`, { field: 'schedule' });
    parseInstant(v.since, { name: `${source}: ${key}.since` });
    out.since = v.since;
  }
  return out as UserCollector;
}

export function parseScheduleConfig(raw: unknown, source = 'schedule', baseDir = process.cwd()): ScheduledCollector[] {
  const collectors = (raw as { collectors?: unknown } | null)?.collectors;
  if (!collectors || typeof collectors !== 'object' || Array.isArray(collectors)) {
    throw new ConfigError(`${source}: expected {"collectors": {"<key>": {"cron": "…"}}}`, { field: 'schedule' });
  }
  const out: ScheduledCollector[] = [];
  for (const [key, value] of Object.entries(collectors as Record<string, unknown>)) {
    const v = (value ?? {}) as { cron?: unknown; dependsOn?: unknown; enabled?: unknown } & Record<string, unknown>;
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
    const collect = userCollector(key, v, source, baseDir);
    out.push({ key, cron, dependsOn: dependsOn as string[], enabled: v.enabled ?? true, ...(collect ? { collect } : {}) });
  }
  if (!out.length) throw new ConfigError(`${source}: no collectors are scheduled`, { field: 'schedule' });
  return out;
}

/** Every enabled collector, hourly at five past, without dependencies. */
export function defaultSchedule(keys: readonly string[]): ScheduledCollector[] {
  return keys.map((key) => ({ key, cron: DEFAULT_CRON, dependsOn: [], enabled: true }));
}
