import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError, type Queryable } from '@tally/core';

/** The parts of tools/controller/seed.ts the demo uses. */
export interface SeedModule {
  seedController(
    db: Queryable,
    opts: { days: number; jobsPerDay: number; hosts: number; orgs: number; seed: number; end?: Date; hostsPerJob?: number; eventsPerSummary?: number },
  ): Promise<{ since: Date; until: Date; installUuid: string; hosts: number; jobs: number; jobHostSummaries: number; jobEvents: number }>;
}
export interface SchemaModule {
  applyControllerSchema(db: Queryable): Promise<void>;
  CONTROLLER_TABLES: readonly string[];
}

/** The repository checkout this CLI runs from (src or dist), found by its tools/controller directory. */
export function repositoryRoot(from = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'tools', 'controller', 'seed.ts'))) return dir;
    if (dirname(dir) === dir) break;
  }
  throw new ConfigError('the demo needs the Tally repository checkout (tools/controller/seed.ts); run it with `pnpm demo` from the repository', {
    field: 'demo',
  });
}

let tsxRegistered: Promise<void> | undefined;
function registerTsx(): Promise<void> {
  tsxRegistered ??= import('tsx/esm/api').then((api: { register: () => unknown }) => {
    api.register();
  });
  return tsxRegistered;
}

/**
 * Import a TypeScript module of tools/ at run time. Under tsx (tests, `node --import tsx`)
 * this just works; from the compiled CLI, register tsx's loader first.
 */
async function importTool<T>(relative: string): Promise<T> {
  const url = pathToFileURL(join(repositoryRoot(), relative)).href;
  try {
    return (await import(url)) as T;
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
    await registerTsx();
    // Node caches the failed load under the plain URL: ask again under another one.
    return (await import(`${url}?tsx`)) as T;
  }
}

export function loadSeeder(): Promise<SeedModule> {
  return importTool<SeedModule>('tools/controller/seed.ts');
}

export function loadControllerSchema(): Promise<SchemaModule> {
  return importTool<SchemaModule>('tools/controller/schema.ts');
}
