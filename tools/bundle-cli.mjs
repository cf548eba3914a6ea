// Bundles the `tally` command into packages/cli/dist/tally.js (+ dist/chunks/: one lazily loaded chunk per command
// and per optional backend), so a start reads a few files instead of ~450 (Node's resolution, reads and compiles
// of each file were ~40 % of `tally report`'s module loading). Run by `pnpm build` after `tsc -b`; it bundles the
// compiled dist/ of the workspace packages, so the bundle is only as fresh as the last `pnpm build`.
// Usage: node tools/bundle-cli.mjs [--clean]   (--clean: remove the bundle only)
import { readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const packages = fileURLToPath(new URL('../packages', import.meta.url));
const outdir = join(packages, 'cli', 'dist');

/** Every workspace package by name: its directory, entry file and @tally dependencies. */
const workspace = new Map(
  readdirSync(packages).map((dir) => {
    const manifest = JSON.parse(readFileSync(join(packages, dir, 'package.json'), 'utf8'));
    const deps = Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies }).filter((d) => d.startsWith('@tally/'));
    return [manifest.name, { dir: join(packages, dir), entry: join(packages, dir, manifest.exports['.'].default), deps }];
  }),
);

/**
 * The names to resolve one from the other to reach a workspace package from @tally/cli, each a dependency of
 * the previous (a package only sees its own dependencies in a strict node_modules, as pnpm makes).
 */
function chainTo(name) {
  const paths = [[]];
  for (const seen = new Set(['@tally/cli']); paths.length; ) {
    const path = paths.shift();
    for (const dep of workspace.get(path.at(-1) ?? '@tally/cli').deps) {
      if (dep === name) return [...path, dep];
      if (!seen.has(dep)) paths.push([...path, dep]);
      seen.add(dep);
    }
  }
  throw new Error(`bundle-cli: @tally/cli does not depend on ${name}`);
}

/**
 * Modules left out of the bundle, each required at run time from the package that needs it: DuckDB's native
 * binding, and exceljs (large, and loaded only by @tally/reports' readWorkbook: kept out, one copy of it).
 */
const ANCHORED = {
  '@duckdb/node-bindings': [...chainTo('@tally/dataframes'), '@duckdb/node-api', '@duckdb/node-bindings'],
  exceljs: [...chainTo('@tally/reports'), 'exceljs'],
};
/** Left out and loaded as they are: the optional demo (PGlite and its WebAssembly files), pg's optional native client. */
const EXTERNAL = ['@tally/demo', 'pg-native'];

// Each chunk: a `require` for the CommonJS modules in it (ESM has none), and the file a chain of names resolves to.
const BANNER = `import { createRequire as __tallyCreateRequire } from 'node:module';
import { pathToFileURL as __tallyFileUrl } from 'node:url';
const require = __tallyCreateRequire(import.meta.url);
const __tallyResolve = (chain) => chain.reduce((at, name) => __tallyCreateRequire(at).resolve(name), import.meta.url);`;

/** The workspace package a file belongs to, or undefined. */
function workspacePackage(file) {
  for (const [name, pkg] of workspace) if (!relative(pkg.dir, file).startsWith('..') && !file.includes('node_modules')) return { name, ...pkg };
  return undefined;
}

/**
 * A workspace module keeps its own location: `import.meta.url` becomes its file's URL, found at run time from
 * its package's entry (package.json files, the extraction worker, createRequire read beside it), and a module
 * required by a literal name through `createRequire(import.meta.url)` is bundled like a `require`.
 */
const workspaceLocations = {
  name: 'workspace-locations',
  setup(b) {
    b.onLoad({ filter: /\/packages\/[^/]+\/dist\/.*\.js$/ }, ({ path }) => {
      let contents = readFileSync(path, 'utf8');
      const pkg = workspacePackage(path);
      if (!pkg || !contents.includes('import.meta.url')) return { contents, loader: 'js' };
      contents = contents.replace(/\bcreateRequire\(import\.meta\.url\)\((['"][^'"]+['"])\)/g, 'require($1)');
      const chain = pkg.name === '@tally/cli' ? [pkg.name] : chainTo(pkg.name);
      const own = `new URL(${JSON.stringify(relative(dirname(pkg.entry), path))}, __tallyFileUrl(__tallyResolve(${JSON.stringify(chain)}))).href`;
      return { contents: contents.replaceAll('import.meta.url', own), loader: 'js' };
    });
  },
};

/** Each ANCHORED module: a stub that requires it through its chain. */
const anchored = {
  name: 'anchored',
  setup(b) {
    const names = Object.keys(ANCHORED).map((n) => n.replace(/[/@.-]/g, '\\$&'));
    b.onResolve({ filter: new RegExp(`^(${names.join('|')})$`) }, ({ path }) => ({ path, namespace: 'anchored' }));
    b.onLoad({ filter: /.*/, namespace: 'anchored' }, ({ path }) => ({ contents: `module.exports = require(__tallyResolve(${JSON.stringify(ANCHORED[path])}));`, loader: 'js' }));
  },
};

await rm(join(outdir, 'chunks'), { recursive: true, force: true });
await rm(join(outdir, 'tally.js'), { force: true });
if (!process.argv.includes('--clean')) {
  await build({
    entryPoints: { tally: join(outdir, 'bin.js') },
    outdir,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    banner: { js: BANNER },
    plugins: [workspaceLocations, anchored],
    logLevel: 'warning',
  });
}
