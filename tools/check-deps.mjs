// Checks each public package's dist imports against its package.json: every bare module it imports must be
// declared (dependencies, peerDependencies or optionalDependencies) and every declared module must be imported.
// Usage: node tools/check-deps.mjs [packages-dir]   (exit 1 and one line per problem when something is off)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const builtins = new Set(builtinModules);
// Static imports/re-exports at the start of a line (as tsc emits them) and dynamic imports of a literal.
const IMPORT = /^\s*(?:import|export)\s(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

// Imports the checker knows about and accepts, with the reason; each is a debt to pay, not a rule.
const KNOWN = {
  '@tally/extractors': { tsx: 'only when the module runs as TypeScript source under the test runner, never from dist' },
};

function jsFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return jsFiles(path);
    return name.endsWith('.js') || name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The package name of a bare specifier ('@scope/name/sub' → '@scope/name'), or undefined for relative and builtin ones. */
export function packageOf(spec) {
  if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:') || spec.startsWith('file:')) return undefined;
  const parts = spec.split('/');
  const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  return builtins.has(name) ? undefined : name;
}

// The CLI's bundle (tools/bundle-cli.mjs) holds the other packages' code, checked in their own dist.
const BUNDLE = /\/cli\/dist\/(tally\.js|chunks\/)/;

/** Bare packages imported (statically or by a literal dynamic import) from a package's dist JavaScript and declarations. */
export function importedPackages(distDir) {
  const found = new Map(); // package → first file importing it
  for (const file of jsFiles(distDir).filter((f) => !BUNDLE.test(f))) {
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const pkg = packageOf(m[1] ?? m[2]);
      if (pkg && !found.has(pkg)) found.set(pkg, file);
    }
  }
  return found;
}

/** Problems of one package directory: `name: imports X (file) but does not declare it` / `declares X but never imports it`. */
export function checkPackage(dir) {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const declared = new Set(
    ['dependencies', 'peerDependencies', 'optionalDependencies'].flatMap((k) => Object.keys(manifest[k] ?? {})),
  );
  const imported = importedPackages(join(dir, 'dist'));
  const problems = [];
  for (const [pkg, file] of imported) {
    if (!declared.has(pkg) && pkg !== manifest.name && !KNOWN[manifest.name]?.[pkg]) problems.push(`${manifest.name}: imports ${pkg} (${file}) but does not declare it`);
  }
  for (const pkg of declared) {
    if (!imported.has(pkg)) problems.push(`${manifest.name}: declares ${pkg} but never imports it`);
  }
  return problems;
}

/** Problems of every public package under `packagesDir`. */
export function checkAll(packagesDir) {
  return readdirSync(packagesDir)
    .map((name) => join(packagesDir, name))
    .filter((dir) => !JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).private)
    .flatMap(checkPackage);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const problems = checkAll(process.argv[2] ?? fileURLToPath(new URL('../packages', import.meta.url)));
  for (const p of problems) console.error(p);
  process.exitCode = problems.length ? 1 : 0;
}
