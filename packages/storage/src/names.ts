import { StorageError, parseTarballStamp } from '@tally/core';
import type { GlobOptions } from './storage.js';

/** Refuse names that are empty, absolute, or climb out of the storage root. */
export function checkName(backend: string, name: string): string {
  if (typeof name !== 'string' || name.length === 0) throw new StorageError(backend, 'name must be a non-empty string');
  if (name.startsWith('/') || /^[A-Za-z]:[\\/]/.test(name)) {
    throw new StorageError(backend, `name "${name}" is absolute; expected a relative name such as data/2024/03/11/file.tar.gz`);
  }
  if (name.includes('\0')) throw new StorageError(backend, `name "${name}" contains a NUL byte`);
  if (name.split(/[\\/]/).some((part) => part === '..')) {
    throw new StorageError(backend, `name "${name}" contains "..", which would leave the storage root`);
  }
  return name;
}

/**
 * The reference's date filter: the first `YYYY-MM-DD-HHMMSS±ZZZZ` in the name must
 * satisfy since ≤ ts < until; names without a stamp are dropped when a bound is given.
 */
export function dateFilter(name: string, opts: GlobOptions = {}): boolean {
  if (!opts.since && !opts.until) return true;
  const ts = parseTarballStamp(name);
  if (!ts) return false;
  if (opts.since && ts.getTime() < opts.since.getTime()) return false;
  if (opts.until && ts.getTime() >= opts.until.getTime()) return false;
  return true;
}

/**
 * Compile a glob to a RegExp. `segmented` (directory semantics): `*` and `?` do not
 * cross `/`, `**` does. Otherwise (S3/fnmatch semantics) `*` matches `/` too.
 */
export function globToRegExp(pattern: string, segmented = true): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        re += '.*';
        i++;
        if (pattern[i + 1] === '/') i++;
      } else re += segmented ? '[^/]*' : '.*';
    } else if (c === '?') re += segmented ? '[^/]' : '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        let cls = pattern.slice(i + 1, end);
        if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
        re += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The literal text before the first wildcard: a listing prefix for key-value stores. */
export function globPrefix(pattern: string): string {
  const i = pattern.search(/[*?[]/);
  return i < 0 ? pattern : pattern.slice(0, i);
}
