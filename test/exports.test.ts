import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Each public package's API is the named export list of its src/index.ts (no `export *`, so nothing leaks in
// unseen) and its README documents exactly that list. Convention: the README's `## API` section (up to the next
// `## ` heading) has one bullet per group of exports, each bullet starting with the exported names in backticks,
// separated by commas: "- `S3Storage`, `S3Options`: …". Types count as exports too.

const root = fileURLToPath(new URL('..', import.meta.url));

interface Exported {
  values: string[];
  types: string[];
}

/** The names a `src/index.ts` exports, from its `export { … } from` / `export type { … } from` lists. */
function indexExports(source: string): Exported {
  const values: string[] = [];
  const types: string[] = [];
  for (const m of source.matchAll(/^export\s+(type\s+)?\{([^}]*)\}/gm)) {
    for (const raw of (m[2] ?? '').split(',').map((s) => s.replace(/\/\/.*$/gm, '').trim()).filter(Boolean)) {
      const isType = Boolean(m[1]) || raw.startsWith('type ');
      const name = (raw.replace(/^type\s+/, '').split(/\s+as\s+/).at(-1) ?? '').trim();
      (isType ? types : values).push(name);
    }
  }
  return { values: values.sort(), types: types.sort() };
}

/** The names a README's `## API` section documents: the backticked names that start each bullet. */
function documentedNames(readme: string): string[] | undefined {
  const section = /^## API\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(readme)?.[1];
  if (section === undefined) return undefined;
  const names: string[] = [];
  for (const line of section.split('\n')) {
    const lead = /^[-*] ((?:`[\w$]+`(?:, )?)+)/.exec(line)?.[1];
    if (lead) names.push(...[...lead.matchAll(/`([\w$]+)`/g)].map((n) => n[1] ?? ''));
  }
  return names.sort();
}

const packages = readdirSync(join(root, 'packages'))
  .map((dir) => ({ dir: join(root, 'packages', dir), manifest: JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) }))
  .filter(({ manifest }) => !manifest.private);

describe('each public package exports a named list and its README documents exactly that list', () => {
  it('finds the public packages', () => {
    expect(packages.length).toBeGreaterThanOrEqual(13);
  });

  it.each(packages.map((p) => [p.manifest.name as string, p.dir]))('%s', async (name, dir) => {
    const index = readFileSync(join(dir, 'src', 'index.ts'), 'utf8');
    expect(index, `${name}: src/index.ts uses export *`).not.toMatch(/^export \*/m);
    const { values, types } = indexExports(index);
    // The parsed list is what the module really exports at run time (the vitest alias loads src/index.ts).
    const runtime = Object.keys(await import(name)).sort();
    expect(runtime, `${name}: runtime exports vs the export list of src/index.ts`).toEqual(values);
    const documented = documentedNames(readFileSync(join(dir, 'README.md'), 'utf8'));
    expect(documented, `${name}: README.md has a "## API" section`).toBeDefined();
    const exported = [...values, ...types].sort();
    expect(
      { undocumented: exported.filter((n) => !documented?.includes(n)), notExported: documented?.filter((n) => !exported.includes(n)) },
      `${name}: README "## API" bullets vs exports`,
    ).toEqual({ undocumented: [], notExported: [] });
    expect(new Set(documented).size, `${name}: a name documented twice`).toBe(documented?.length);
  });
});

describe('the parsers of the convention', () => {
  it('reads value and type exports, renamed ones by their exported name', () => {
    expect(indexExports("export { a, type B, c as d } from './x.js';\nexport type { E } from './y.js';\n")).toEqual({ values: ['a', 'd'], types: ['B', 'E'] });
  });
  it('reads the names that start the API bullets only', () => {
    const readme = '# x\n\n## API\n\n- `a`, `B`: does `c`\n- not a name `d`\n\n## Other\n\n- `e`\n';
    expect(documentedNames(readme)).toEqual(['B', 'a']);
    expect(documentedNames('# x\n')).toBeUndefined();
  });
});
