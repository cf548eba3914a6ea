import { resolve } from 'node:path';
import { advisoryLock, type ClusterLock, ConfigError, fileLock, type Queryable } from '@tally/core';
import { JsonFileStateStore, PostgresStateStore, type StateStore } from '@tally/gather';
import { connectDatabase, databaseUrl } from './db-connection.js';
import { FileScheduleStore } from './schedule-file.js';
import { postgresScheduleStore, type ScheduleStore } from './schedule-store.js';

/** `--state-db` / `--state-file` as commander parses them. */
export interface StateOptions {
  stateDb?: string;
  stateFile?: string;
}

/**
 * Where gather keeps watermarks, run status and the cluster lock, and the
 * scheduler its run state: the controller database (default), another
 * PostgreSQL database, or a JSON file with lock files beside it.
 */
export type StateChoice = { kind: 'controller' } | { kind: 'db'; url: string } | { kind: 'file'; path: string };

const ELSEWHERE = 'keep state elsewhere with --state-db or --state-file';
const FILE_INSTEAD = 'keep state in a file with --state-file';

/**
 * The choice from the options, else TALLY_STATE_DATABASE_URL / TALLY_STATE_FILE; both at once is a usage error.
 * A relative state file is taken from `cwd`, so a later change of directory does not move it.
 */
export function stateChoice(opts: StateOptions, env: Record<string, string | undefined>, cwd = process.cwd()): StateChoice {
  const fromOptions = opts.stateDb !== undefined || opts.stateFile !== undefined;
  const db = fromOptions ? opts.stateDb : env.TALLY_STATE_DATABASE_URL || undefined;
  const file = fromOptions ? opts.stateFile : env.TALLY_STATE_FILE || undefined;
  if (db !== undefined && file !== undefined) {
    const names = fromOptions ? '--state-db and --state-file' : 'TALLY_STATE_DATABASE_URL and TALLY_STATE_FILE';
    throw new ConfigError(`${names} both choose where state is kept; give one`, { field: 'stateDb' });
  }
  if (db !== undefined) {
    try {
      return { kind: 'db', url: databaseUrl(db, {}, 'the state database') };
    } catch {
      throw new ConfigError('--state-db/TALLY_STATE_DATABASE_URL is not a postgres:// URL', { field: 'TALLY_STATE_DATABASE_URL' });
    }
  }
  if (file !== undefined) {
    if (!file.trim()) throw new ConfigError('--state-file/TALLY_STATE_FILE is empty', { field: 'TALLY_STATE_FILE' });
    return { kind: 'file', path: resolve(cwd, file) };
  }
  return { kind: 'controller' };
}

/** The schedule's run state sits beside the gather state file, in its own file (each has one writer). */
export const scheduleFileOf = (stateFile: string) => `${stateFile}.schedule.json`;

/** The scheduler's run state for `choice`: on the given connection (controller or state database), or beside the state file. */
export function scheduleStoreFor(choice: StateChoice): (db: Queryable) => ScheduleStore {
  if (choice.kind === 'file') {
    const store = new FileScheduleStore(scheduleFileOf(choice.path));
    return () => store;
  }
  const access = choice.kind === 'db' ? { where: 'the state database', elsewhere: FILE_INSTEAD } : { where: 'the controller database', elsewhere: ELSEWHERE };
  return (db) => postgresScheduleStore(db, access);
}

/** An opened state: what gather, status and schedule read and write, and the lock they take. */
export interface OpenedState {
  choice: StateChoice;
  store: StateStore;
  lock: ClusterLock;
  schedule: ScheduleStore;
  /** Ends the state database's connection, if one was opened (the controller's is the caller's). */
  close(): Promise<void>;
}

/** Open the chosen state. `controller`, the caller's connection to the controller database, is needed for the default only. */
export async function openState(choice: StateChoice, controller: Queryable | undefined, what: string): Promise<OpenedState> {
  if (choice.kind === 'file') {
    return {
      choice,
      store: new JsonFileStateStore(choice.path),
      lock: fileLock(choice.path),
      schedule: new FileScheduleStore(scheduleFileOf(choice.path)),
      close: async () => {},
    };
  }
  if (choice.kind === 'db') {
    const conn = await connectDatabase(choice.url, what);
    return {
      choice,
      store: new PostgresStateStore(conn, { where: 'the state database', elsewhere: FILE_INSTEAD }),
      lock: advisoryLock(conn),
      schedule: scheduleStoreFor(choice)(conn),
      close: () => conn.end().catch(() => {}),
    };
  }
  if (!controller) throw new Error(`${what}: state in the controller database needs its connection`);
  return {
    choice,
    store: new PostgresStateStore(controller, { where: 'the controller database', elsewhere: ELSEWHERE }),
    lock: advisoryLock(controller),
    schedule: scheduleStoreFor(choice)(controller),
    close: async () => {},
  };
}
