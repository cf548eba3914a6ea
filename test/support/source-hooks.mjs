// Resolve `@tally/<name>` to packages/<name>/src/index.ts so the CLI runs from
// source under tsx, exactly as vitest's aliases do: no build needed.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const packages = fileURLToPath(new URL('../../packages/', import.meta.url));

export async function resolve(specifier, context, next) {
  const m = /^@tally\/([a-z0-9-]+)$/.exec(specifier);
  if (m) {
    const file = `${packages}${m[1]}/src/index.ts`;
    if (existsSync(file)) return next(pathToFileURL(file).href, context);
  }
  return next(specifier, context);
}
