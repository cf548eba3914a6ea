import { ConfigError, errorMessage, registerSecret, TallyError } from '@tally/core';
import pg from 'pg';

/** The controller database URL from `--db`, else `DATABASE_URL`; a usage error when neither is set. */
export function databaseUrl(option: string | undefined, env: Record<string, string | undefined>, what: string): string {
  const url = option ?? env.DATABASE_URL;
  if (!url) throw new ConfigError(`${what} needs a database: pass --db postgres://… or set DATABASE_URL`, { field: 'DATABASE_URL' });
  try {
    const u = new URL(url);
    if (u.password) registerSecret(decodeURIComponent(u.password));
    if (!/^postgres(ql)?:$/.test(u.protocol)) throw new Error('not a postgres URL');
  } catch {
    throw new ConfigError(`--db/DATABASE_URL is not a postgres:// URL`, { field: 'DATABASE_URL' });
  }
  return url;
}

/** A URL safe to print: the password is masked. */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** Connect a node-postgres client (COPY needs a real client); a failure names the server, never the password. */
export async function connectDatabase(url: string, applicationName = 'tally'): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw new TallyError(`cannot connect to ${describeDatabaseUrl(url)}: ${errorMessage(err)}`, { cause: err });
  }
  // An idle connection that dies must not crash the process with an unhandled 'error' event.
  client.on('error', () => {});
  return client;
}
