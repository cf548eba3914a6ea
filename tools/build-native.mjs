// Builds the native addons (packages/extractors/native/csv-prepare.c → native/build/csv-prepare.node) with the
// system C compiler against the Node-API headers of the running node. They are optional: without a compiler or the
// headers this prints one warning line and exits 0, and Tally works without them, only slower. A compile error
// with both present fails (exit 1), so a broken addon cannot pass unnoticed.
// Usage: node tools/build-native.mjs [--clean]   (--clean: remove the built addons only)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const ADDONS = [{ source: 'packages/extractors/native/csv-prepare.c', output: 'packages/extractors/native/build/csv-prepare.node' }];

/** The directory holding node_api.h for this node: beside its binary (official builds), else the system's. */
function nodeIncludeDir() {
  const candidates = [join(dirname(dirname(process.execPath)), 'include', 'node'), '/usr/include/node', '/usr/local/include/node'];
  return candidates.find((dir) => existsSync(join(dir, 'node_api.h')));
}

const compiler = process.env.CC || 'cc';
const include = nodeIncludeDir();
/** Removes the built addons: on --clean, and when they cannot be built (an old build would not match the source). */
function removeBuilt() {
  for (const { output } of ADDONS) rmSync(join(root, output), { force: true });
}

if (process.argv.includes('--clean')) {
  removeBuilt();
} else if (spawnSync(compiler, ['--version'], { stdio: 'ignore' }).status !== 0) {
  removeBuilt();
  console.warn(`build-native: no C compiler (${compiler}); the native CSV preparer is not built (Tally works without it, slower)`);
} else if (!include) {
  removeBuilt();
  console.warn(`build-native: no Node-API headers (node_api.h) for ${process.execPath}; the native CSV preparer is not built`);
} else {
  for (const { source, output } of ADDONS) {
    const target = join(root, output);
    mkdirSync(dirname(target), { recursive: true });
    // Compiled beside and renamed into place: a process that has the old addon loaded keeps a valid file.
    const partial = `${target}.${process.pid}.tmp`;
    const flags = ['-O2', '-std=gnu11', '-Wall', '-Wextra', '-shared', '-fPIC', `-I${include}`];
    if (process.platform === 'darwin') flags.push('-undefined', 'dynamic_lookup');
    const cc = spawnSync(compiler, [...flags, '-o', partial, join(root, source)], { stdio: 'inherit' });
    if (cc.status !== 0) {
      rmSync(partial, { force: true });
      console.error(`build-native: ${compiler} failed on ${source}`);
      process.exit(1);
    }
    renameSync(partial, target);
  }
}
