import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

/** `../shared/fixtures` next to the repository (TALLY_FIXTURES overrides). */
export function fixturesDir(): string {
  if (process.env.TALLY_FIXTURES) return process.env.TALLY_FIXTURES;
  for (let dir = here, i = 0; i < 8; i++, dir = resolve(dir, '..')) {
    const candidate = join(dir, '..', 'shared', 'fixtures');
    if (existsSync(candidate)) return resolve(candidate);
  }
  throw new Error('shared/fixtures not found next to the repository; set TALLY_FIXTURES');
}

/** Every metrics-utility fixture tarball, as paths relative to the fixture ship path, sorted. */
export function metricsUtilityTarballs(): { base: string; names: string[] } {
  const base = join(fixturesDir(), 'metrics-utility');
  const names: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(join(base, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.name.endsWith('.tar.gz')) names.push(r);
    }
  };
  walk('');
  return { base, names: names.sort() };
}
