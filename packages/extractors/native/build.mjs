// Compiles the native CSV preparer (csv-prepare.c with the Parquet writer it uses, parquet-out.c → build/csv-prepare.node,
// all beside this file) with the system C compiler ($CC, else cc) against the Node-API headers of the running node.
// The only build of the addon: the repo's `pnpm build` runs it (through tools/build-native.mjs), and npm runs it when
// the package is installed (package.json's "install" script, with --install).
// The addon is optional: without a compiler or the headers this prints one warning line, removes an old build (it would
// not match the source) and exits 0. A compile error with both present exits 1, so a broken addon cannot pass unnoticed
// in the repo; with --install it prints one warning line and exits 0 instead, since an install must never fail for an
// addon the package works without (only slower).
// Usage: node native/build.mjs [--clean | --install]   (--clean: remove the built addon only)
// Node builtins only, plain JavaScript: it runs from the installed package, before anything else of it is usable.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const SOURCES = ['csv-prepare.c', 'parquet-out.c'];
const ADDON = join(here, 'build', 'csv-prepare.node');

/** The directory holding node_api.h for this node: beside its binary (official builds), else the system's. */
function nodeIncludeDir() {
  const candidates = [join(dirname(dirname(process.execPath)), 'include', 'node'), '/usr/include/node', '/usr/local/include/node'];
  return candidates.find((dir) => existsSync(join(dir, 'node_api.h')));
}

/** The first line of a compiler's diagnostics that says what went wrong (for the one line an install prints). */
function firstError(output) {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  return (lines.find((l) => /\berror\b/i.test(l)) ?? lines[0] ?? 'no diagnostics').slice(0, 300);
}

/**
 * Compiles into a file beside the addon and renames it into place (a process that has the old addon loaded keeps
 * a valid file). `quiet`: the compiler's output is kept for the error instead of shown. Returns an error or undefined.
 */
function compile(compiler, include, quiet) {
  mkdirSync(dirname(ADDON), { recursive: true });
  const partial = `${ADDON}.${process.pid}.tmp`;
  const flags = ['-O2', '-std=gnu11', '-Wall', '-Wextra', '-shared', '-fPIC', `-I${include}`];
  if (process.platform === 'darwin') flags.push('-undefined', 'dynamic_lookup');
  const sources = SOURCES.map((source) => join(here, source));
  const cc = spawnSync(compiler, [...flags, '-o', partial, ...sources], { stdio: quiet ? 'pipe' : 'inherit', encoding: 'utf8' });
  if (cc.status === 0) {
    renameSync(partial, ADDON);
    return undefined;
  }
  rmSync(partial, { force: true });
  const why = cc.error ? cc.error.message : quiet ? firstError(`${cc.stderr}\n${cc.stdout}`) : `exit ${cc.status ?? cc.signal}`;
  return `${compiler} failed on ${SOURCES.join(' ')} (${why})`;
}

/**
 * Builds (or with --clean removes) the addon; `args` as on the command line, `env` for $CC. Returns the exit code:
 * 0 also when the addon is left out (one warning line printed), 1 on a compile error unless --install.
 */
export function buildNative(args, env = process.env) {
  if (args.includes('--clean')) {
    rmSync(ADDON, { force: true });
    return 0;
  }
  const install = args.includes('--install');
  const compiler = env.CC || 'cc';
  const include = nodeIncludeDir();
  let problem;
  if (spawnSync(compiler, ['--version'], { stdio: 'ignore' }).status !== 0) problem = `no C compiler (${compiler})`;
  else if (!include) problem = `no Node-API headers (node_api.h) for ${process.execPath}`;
  else {
    problem = compile(compiler, include, install);
    if (!problem) return 0;
    if (!install) {
      console.error(`@tally/extractors native/build.mjs: ${problem}`);
      return 1;
    }
  }
  rmSync(ADDON, { force: true });
  console.warn(`@tally/extractors native/build.mjs: ${problem}; the native CSV preparer is not built (Tally works without it, slower)`);
  return 0;
}

if (process.argv[1] && pathToFileURL(realpathSync(process.argv[1])).href === import.meta.url) {
  process.exitCode = buildNative(process.argv.slice(2));
}
