import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface PostgresServer {
  /** Admin URL (a superuser, database `postgres`). */
  url: string;
  /** How the server was found: `env`, `local` or `throwaway`. */
  kind: 'env' | 'local' | 'throwaway';
  stop(): Promise<void>;
}

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function findPgBin(name: string): string {
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      const p = join(base, v, 'bin', name);
      if (existsSync(p)) return p;
    }
  }
  return name;
}

/** A cluster this process started: its directory and port, for a standby made from it. */
export interface ThrowawayServer extends PostgresServer {
  dir: string;
  port: number;
}

/** initdb refuses to run as root, so as root the PostgreSQL tools run as the `postgres` system user. */
function runPg(bin: string, args: string[]): void {
  const asRoot = process.getuid?.() === 0;
  const cmd = asRoot ? 'runuser' : findPgBin(bin);
  const argv = asRoot ? ['-u', 'postgres', '--', findPgBin(bin), ...args] : args;
  const r = spawnSync(cmd, argv, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed: ${r.stderr || r.stdout || r.error}`);
}

/** Start the cluster in `dir`/data on `port` (loopback only) and return how to reach and remove it. */
function startCluster(dir: string, port: number): ThrowawayServer {
  const data = join(dir, 'data');
  runPg('pg_ctl', [
    '-D', data, '-l', join(dir, 'log'), '-w', '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`,
    'start',
  ]);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    kind: 'throwaway',
    dir,
    port,
    async stop() {
      try {
        runPg('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function clusterDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tally-pg-'));
  chmodSync(dir, 0o777);
  return dir;
}

/** Start a private cluster with initdb/pg_ctl on a free loopback port. */
export async function startThrowawayPostgres(): Promise<ThrowawayServer> {
  const dir = clusterDir();
  runPg('initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
  return startCluster(dir, await freePort());
}

/** A read-only hot standby of `primary`, copied with `pg_basebackup -R` and streaming from it. */
export async function startStandby(primary: ThrowawayServer): Promise<ThrowawayServer> {
  const dir = clusterDir();
  runPg('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', join(dir, 'data'), '-R', '-X', 'stream', '-c', 'fast']);
  return startCluster(dir, await freePort());
}

/**
 * The PostgreSQL server for tests: TEST_DATABASE_URL, else 127.0.0.1:5432 as
 * postgres when reachable, else a throwaway cluster (TALLY_TEST_PG=throwaway forces it).
 */
export async function findOrStartPostgres(): Promise<PostgresServer> {
  const forced = process.env.TALLY_TEST_PG;
  if (forced !== 'throwaway') {
    const fromEnv = process.env.TEST_DATABASE_URL;
    if (fromEnv && (await reachable(fromEnv))) return { url: fromEnv, kind: 'env', stop: async () => {} };
    const local = 'postgres://postgres@127.0.0.1:5432/postgres';
    if (await reachable(local)) return { url: local, kind: 'local', stop: async () => {} };
  }
  return startThrowawayPostgres();
}

export function hasBinary(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
