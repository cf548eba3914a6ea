import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs tool without declarations
import { checkAll, checkPackage } from './check-deps.mjs';

const packagesDir = fileURLToPath(new URL('../packages', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'tally-check-deps-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function fakePackage(manifest: object, files: Record<string, string>): string {
  const dir = mkdtempSync(join(scratch, 'pkg-'));
  mkdirSync(join(dir, 'dist'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'dist', name), text);
  return dir;
}

describe('tools/check-deps: dist imports against package.json', () => {
  it('every public package declares what its dist imports and imports what it declares (needs pnpm build)', () => {
    expect(checkAll(packagesDir)).toEqual([]);
  });

  it('names an undeclared import, a declared package never imported, and accepts peers, builtins and relative paths', () => {
    const dir = fakePackage(
      { name: '@x/a', dependencies: { zod: '1', unused: '1' }, peerDependencies: { pg: '8' } },
      {
        'index.js': "import { z } from 'zod';\nimport fs from 'node:fs';\nimport path from 'path';\nimport { b } from './b.js';\nexport { c } from 'undeclared/sub';\n",
        'b.js': "export const b = () => import('@scope/lazy');\n",
        'index.d.ts': "import type pg from 'pg';\n",
      },
    );
    expect(checkPackage(dir).map((p: string) => p.replace(dir, 'DIR')).sort()).toEqual([
      '@x/a: declares unused but never imports it',
      '@x/a: imports @scope/lazy (DIR/dist/b.js) but does not declare it',
      '@x/a: imports undeclared (DIR/dist/index.js) but does not declare it',
    ]);
  });
});
