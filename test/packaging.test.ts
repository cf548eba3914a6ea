import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '@tally/testkit';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Every public package, packed with `pnpm pack` and installed ALONE with npm (not pnpm) into a fresh project
// with no workspace: its README's runnable example (the first ```js runnable block, read from the installed
// package) runs as a plain .mjs on this machine's Node. Expected output is written in the example as
// `// → text`; each such text must appear in what it prints. Sibling @tally packages are not on a registry,
// so their packed tarballs are installed too (only those the package depends on, transitively).
// The CLI also runs `tally --help` from its installed bin, refuses `tally demo` in one line while @tally/demo (its
// optional dependency: PGlite; not on a registry here, so npm skips it as `--omit=optional` would) is not installed, and, once it is, runs `tally demo` in an empty folder: no checkout, no
// tsx. Installs run concurrently (vitest maxConcurrency), npm being mostly I/O-bound.
// @tally/extractors compiles its native CSV preparer in its npm `install` script: wherever it is installed (alone or
// under a package that needs it) the addon loads when a C compiler works here, and the installed CLI loads it from there;
// a broken compiler leaves it out without failing the install.

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'tally-packaging-'));
// One npm cache for every install (kept between runs, so a re-run needs no network for what it already has).
const npmCache = join(tmpdir(), 'tally-npm-cache');
// As packages/extractors/test/csv-prepare.test.ts decides it: `cc` works, so the addon must build.
const hasCompiler = spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;

interface Pkg {
  dir: string;
  name: string;
  deps: string[];
  tarball: string;
}
const pkgs = new Map<string, Pkg>();

function publicPackages(): Pkg[] {
  return readdirSync(join(root, 'packages'))
    .map((dir) => ({ dir: join(root, 'packages', dir), manifest: JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) }))
    .filter(({ manifest }) => !manifest.private)
    .map(({ dir, manifest }) => ({ dir, name: manifest.name, deps: Object.keys(manifest.dependencies ?? {}), tarball: '' }));
}

/** The package and every @tally package it needs, transitively. */
function closure(name: string, seen = new Set<string>()): Set<string> {
  if (seen.has(name)) return seen;
  seen.add(name);
  for (const d of pkgs.get(name)?.deps ?? []) if (pkgs.has(d)) closure(d, seen);
  return seen;
}

/** The first ```js runnable block of a README. */
function runnableExample(readme: string): string | undefined {
  return /^```js runnable\n([\s\S]*?)^```$/m.exec(readme)?.[1];
}

let db: TestDatabase;
let s3: S3rver;
let s3Endpoint: string;
let segment: Server;
let segmentRequests = 0;

beforeAll(async () => {
  for (const p of publicPackages()) pkgs.set(p.name, p);
  const packs = join(work, 'packs');
  mkdirSync(packs);
  const queue = [...pkgs.values()];
  const packNext = async (): Promise<void> => {
    for (let p = queue.shift(); p; p = queue.shift()) {
      const { stdout } = await run('pnpm', ['pack', '--pack-destination', packs], { cwd: p.dir });
      p.tarball = stdout.trim().split('\n').at(-1) ?? '';
      expect(p.tarball).toMatch(/^\/.*\.tgz$/); // absolute: also the key of an allowScripts entry
    }
  };
  await Promise.all([packNext(), packNext(), packNext(), packNext()]);
  db = await createTestDatabase('packaging');
  s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: join(work, 's3rver'), configureBuckets: [{ name: 'examples', configs: [] }] });
  s3Endpoint = `http://127.0.0.1:${(await s3.run()).port}`;
  segment = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      segmentRequests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => segment.listen(0, '127.0.0.1', resolve));
}, 120_000);

afterAll(async () => {
  await s3?.close();
  await new Promise((resolve) => segment?.close(resolve));
  await db?.[Symbol.asyncDispose]();
  rmSync(work, { recursive: true, force: true });
});

async function npmInstall(project: string, names: Iterable<string>, env = process.env): Promise<void> {
  const tarballs = [...names].map((n) => pkgs.get(n)?.tarball ?? '');
  await run('npm', ['install', '--cache', npmCache, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs], {
    cwd: project,
    env,
    maxBuffer: 16 * 1024 * 1024,
  });
}

async function installAlone(name: string, project = join(work, name.replace('@tally/', '')), env = process.env): Promise<string> {
  mkdirSync(project);
  // @tally/extractors' install script approved, as `npm install-scripts approve` writes it (npm 12 runs no unapproved one).
  const allowScripts = { [`file:${pkgs.get('@tally/extractors')?.tarball}`]: true };
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'example', private: true, type: 'module', allowScripts }));
  await npmInstall(project, closure(name), env);
  return project;
}

/** The addon @tally/extractors' install script builds, in a project's node_modules. */
function installedAddon(project: string): string {
  return join(realpathSync(project), 'node_modules', '@tally', 'extractors', 'native', 'build', 'csv-prepare.node');
}

/** The installed @tally/extractors, imported from the project: `csvPrepareNative`, and a small CSV prepared. */
async function installedPreparer(project: string): Promise<{ native: boolean; result: unknown; parquet: boolean }> {
  const script = join(project, 'prepare-csv.mjs');
  writeFileSync(
    script,
    `import { readFileSync, writeFileSync } from 'node:fs';
import { csvPrepareNative, prepareCsvFile } from '@tally/extractors';
writeFileSync('small.csv', 'id,host,changed\\n1,a,2\\n2,"b,c",\\n3,,7\\n');
const result = await prepareCsvFile('small.csv', 'small.parquet', ['id', 'host', 'changed'], ['count', 'text', 'count']);
const parquet = 'rows' in result && readFileSync('small.parquet').subarray(0, 4).toString() === 'PAR1';
console.log(JSON.stringify({ native: csvPrepareNative, result, parquet }));
`,
  );
  const { stdout } = await run(process.execPath, [script], { cwd: project });
  return JSON.parse(stdout);
}

/** The installed CLI: `--help`, `demo` refused without @tally/demo, then the whole demo in an empty folder. */
async function checkInstalledCli(project: string): Promise<void> {
  // Each addon loaded, appended to a log (after it loaded): the bundled CLI finds the preparer in @tally/extractors.
  const dlopenLog = join(project, 'dlopen.log');
  const hook = join(project, 'dlopen-log.cjs');
  writeFileSync(
    hook,
    `const { appendFileSync } = require('node:fs');
const dlopen = process.dlopen;
process.dlopen = function (module, filename, ...rest) {
  const loaded = dlopen.call(this, module, filename, ...rest);
  appendFileSync(${JSON.stringify(dlopenLog)}, filename + '\\n');
  return loaded;
};
`,
  );
  const tally = join(project, 'node_modules', '.bin', 'tally');
  const help = await run(tally, ['--help'], { cwd: project, env: exampleEnv() });
  expect(help.stdout).toMatch(/gather/);
  expect(help.stdout).toMatch(/demo/);
  // The CLI alone carries neither PGlite nor tsx.
  expect(readdirSync(join(project, 'node_modules'))).not.toContain('tsx');
  expect(readdirSync(join(project, 'node_modules'))).not.toContain('@electric-sql');
  const { DATABASE_URL: _, ...env } = exampleEnv(); // the demo's own embedded database, not the test server
  const empty = mkdtempSync(join(work, 'empty-'));
  const refused = await run(tally, ['demo'], { cwd: empty, env }).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => err,
  );
  expect(refused.code).toBe(2);
  expect(refused.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^tally: tally demo needs the @tally\/demo package .*npm install @tally\/demo/)]);
  await npmInstall(project, closure('@tally/demo'));
  const demoEnv = { ...env, NODE_OPTIONS: `--require ${hook}` };
  const demo = await run(tally, ['demo', '--days', '2'], { cwd: empty, env: demoEnv, timeout: 180_000 }).catch((err) => {
    throw new Error(`tally demo failed:\n${err.stderr ?? err.message}`);
  });
  expect(demo.stdout).toMatch(/Tally demo finished in [\d.]+s\. Artifacts in /);
  const loaded = readFileSync(dlopenLog, 'utf8').split('\n');
  expect(loaded.some((f) => f.endsWith('.node')), 'the dlopen hook saw DuckDB load').toBe(true);
  if (hasCompiler) expect(loaded).toContain(installedAddon(project));
  else expect(loaded.filter((f) => f.endsWith('csv-prepare.node'))).toEqual([]);
  const artifacts = readdirSync(join(empty, '.tally', 'demo'), { recursive: true }).map(String);
  expect(artifacts.filter((f) => f.endsWith('.tar.gz')).length).toBeGreaterThanOrEqual(4);
  expect(artifacts.some((f) => f.endsWith('.parquet'))).toBe(true);
  expect(artifacts.filter((f) => f.endsWith('.xlsx')).map((f) => f.split('/').at(-1)?.split('-')[0]).sort()).toEqual(['CCSPv2', 'RENEWAL_GUIDANCE']);
}

function exampleEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: db.url,
    METRICS_UTILITY_BUCKET_NAME: 'examples',
    METRICS_UTILITY_BUCKET_ENDPOINT: s3Endpoint,
    METRICS_UTILITY_BUCKET_ACCESS_KEY: 'S3RVER',
    METRICS_UTILITY_BUCKET_SECRET_KEY: 'S3RVER',
    METRICS_UTILITY_SEGMENT_WRITE_KEY: 'example-write-key',
    SEGMENT_HOST: `http://127.0.0.1:${(segment.address() as AddressInfo).port}`,
  };
}

describe('every public package installs alone with npm from its packed tarball and its README example runs', () => {
  it('finds the public packages', () => {
    expect(pkgs.size).toBeGreaterThanOrEqual(14);
  });

  it('READMEs show plain JavaScript for Node 20: no TypeScript blocks, no `await using`, no private testkit', () => {
    for (const p of publicPackages()) {
      const readme = readFileSync(join(p.dir, 'README.md'), 'utf8');
      expect(readme, p.name).not.toMatch(/^```tsx?\b/m);
      expect(readme, p.name).not.toMatch(/^await using|[^`]await using [a-z]+ =/m);
      expect(readme, p.name).not.toContain('@tally/testkit');
      expect(readme, p.name).not.toMatch(/\bspec\/[\w-]+\.md/);
      expect(runnableExample(readme), `${p.name}: a \`\`\`js runnable block`).toBeDefined();
    }
  });

  const names = publicPackages().map((p) => p.name);
  it.concurrent.each(names)('%s', { timeout: 300_000 }, async (name) => {
    const project = await installAlone(name);
    const installed = join(project, 'node_modules', name);
    for (const f of ['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts']) {
      expect(readdirSync(join(installed, f, '..')), `${name} ships ${f}`).toContain(f.split('/').at(-1));
    }
    const example = runnableExample(readFileSync(join(installed, 'README.md'), 'utf8'));
    const script = join(project, 'example.mjs');
    expect(example, `${name}: a runnable README example`).toBeDefined();
    writeFileSync(script, example ?? '');
    const before = segmentRequests;
    const { stdout } = await run(process.execPath, [script], { cwd: project, env: exampleEnv(), timeout: 120_000 }).catch((err) => {
      throw new Error(`${name}: the README example failed:\n${err.stderr ?? err.message}`);
    });
    for (const m of (example ?? '').matchAll(/\/\/ → (.+)$/gm)) expect(stdout, `${name} prints "${m[1]}"`).toContain(m[1]?.trim());
    if (name === '@tally/storage-segment') expect(segmentRequests).toBeGreaterThan(before);
    if (closure(name).has('@tally/extractors')) {
      const prepared = await installedPreparer(project);
      if (hasCompiler) expect(prepared, `${name}: the addon built at install`).toEqual({ native: true, result: { rows: 3 }, parquet: true });
      else expect(prepared).toEqual({ native: false, result: { refused: 'native CSV preparation is not built' }, parquet: false });
    }
    if (name === '@tally/cli') await checkInstalledCli(project);
  });

  it.concurrent('@tally/extractors with a broken C compiler: the install succeeds, the package loads without the addon', { timeout: 300_000 }, async () => {
    const project = join(work, 'extractors-broken-cc');
    const cc = join(work, 'broken-cc');
    // Answers --version (so the compile is attempted) and fails every compile.
    writeFileSync(cc, '#!/bin/sh\n[ "$1" = --version ] && exit 0\necho "broken-cc: error: no compiling today" >&2\nexit 1\n');
    chmodSync(cc, 0o755);
    await installAlone('@tally/extractors', project, { ...process.env, CC: cc });
    expect(await installedPreparer(project)).toEqual({ native: false, result: { refused: 'native CSV preparation is not built' }, parquet: false });
    // The install script itself: exit 0 (run would reject), one warning line with the compiler's error.
    const script = join(project, 'node_modules', '@tally', 'extractors', 'native', 'build.mjs');
    const { stdout, stderr } = await run(process.execPath, [script, '--install'], { cwd: project, env: { PATH: process.env.PATH, CC: cc } });
    expect(stdout).toBe('');
    const warning = /^@tally\/extractors native\/build\.mjs: .*; the native CSV preparer is not built \(Tally works without it, slower\)$/;
    expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(warning)]);
    if (hasCompiler) expect(stderr).toContain(`${cc} failed on csv-prepare.c parquet-out.c (broken-cc: error: no compiling today)`);
    // No compiler at all: the same, one line.
    const none = await run(process.execPath, [script, '--install'], { cwd: project, env: { PATH: process.env.PATH, CC: '/bin/false' } });
    expect(none.stderr.trim().split('\n')).toEqual([expect.stringMatching(/: no C compiler \(\/bin\/false\); the native CSV preparer is not built/)]);
  });
});
