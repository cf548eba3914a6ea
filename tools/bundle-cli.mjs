// Bundles the `tally` command into packages/cli/dist/tally.js (+ dist/chunks/: one lazily loaded chunk per command
// and per optional backend), so a start reads a few files instead of ~450 (Node's resolution, reads and compiles
// were ~40 % of `tally report`'s module loading). Run by `pnpm build` after `tsc -b`; it bundles the compiled
// dist/ of the workspace packages, so the bundle is only as fresh as the last `pnpm build`.
// Usage: node tools/bundle-cli.mjs [--clean]   (--clean: remove the bundle only)
import { readFile, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const packages = join(root, 'packages');
const outdir = join(packages, 'cli', 'dist');

/**
 * Modules left out of the bundle, each loaded at run time from where the package that needs it can see it
 * (a chain of packages, each resolved from the previous one; the first from @tally/cli): the native DuckDB
 * binding, and exceljs, whose files @tally/reports also loads and patches by path (one copy of it).
 */
const ANCHORED = {
  '@duckdb/node-bindings': ['@tally/dataframes', '@duckdb/node-api'],
  exceljs: ['@tally/reports'],
};
/** Left out and loaded as they are: the optional demo (PGlite and its WebAssembly files), pg's optional native client. */
const EXTERNAL = ['@tally/demo', 'pg-native'];

/** The name and entry file of the workspace package a file belongs to, or undefined. */
async function workspacePackage(file) {
  const rel = relative(packages, file);
  if (rel.startsWith('..') || rel.includes('node_modules')) return undefined;
  const dir = join(packages, rel.split('/')[0]);
  const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
  return { name: manifest.name, entry: join(dir, manifest.exports['.'].default) };
}

/**
 * A workspace module keeps its own location: `import.meta.url` becomes its file's URL, found at run time from
 * its package's entry (package.json files, the extraction worker, createRequire read beside it), and a module
 * required by a literal name through `createRequire(import.meta.url)` is bundled like a `require`.
 */
const workspaceLocations = {
  name: 'workspace-locations',
  setup(b) {
    b.onLoad({ filter: /\/packages\/[^/]+\/dist\/.*\.js$/ }, async ({ path }) => {
      let contents = await readFile(path, 'utf8');
      const pkg = await workspacePackage(path);
      if (!pkg || !contents.includes('import.meta.url')) return { contents, loader: 'js' };
      contents = contents.replace(/\bcreateRequire\(import\.meta\.url\)\((['"][^'"]+['"])\)/g, 'require($1)');
      const own = `new URL(${JSON.stringify(relative(dirname(pkg.entry), path))}, import.meta.resolve(${JSON.stringify(pkg.name)})).href`;
      return { contents: contents.replaceAll('import.meta.url', own), loader: 'js' };
    });
  },
};

/** Each ANCHORED module: a stub that requires it from its anchor chain. */
const anchored = {
  name: 'anchored',
  setup(b) {
    const names = Object.keys(ANCHORED).map((n) => n.replace(/[/@.-]/g, '\\$&'));
    b.onResolve({ filter: new RegExp(`^(${names.join('|')})$`) }, ({ path }) => ({ path, namespace: 'anchored' }));
    b.onLoad({ filter: /.*/, namespace: 'anchored' }, ({ path }) => {
      const [first, ...rest] = [...ANCHORED[path], path];
      const steps = rest.map((name) => `at = createRequire(at).resolve(${JSON.stringify(name)});`);
      return { contents: [`const { createRequire } = require('node:module');`, `let at = require.resolve(${JSON.stringify(first)});`, ...steps, 'module.exports = require(at);'].join('\n'), loader: 'js' };
    });
  },
};

await rm(join(outdir, 'chunks'), { recursive: true, force: true });
await rm(join(outdir, 'tally.js'), { force: true });
if (process.argv.includes('--clean')) process.exit(0);
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
  // CommonJS modules in the bundle call `require`; ESM has none, so each chunk makes one.
  banner: { js: "import { createRequire as __tallyCreateRequire } from 'node:module'; const require = __tallyCreateRequire(import.meta.url);" },
  plugins: [workspaceLocations, anchored],
  logLevel: 'warning',
});
