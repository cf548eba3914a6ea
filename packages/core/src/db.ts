import { errorMessage, TallyError } from './errors.js';

/**
 * The smallest database surface Tally needs; `pg.Client`, `pg.PoolClient` and
 * PGlite all satisfy it, so core does not depend on a driver.
 */
export interface Queryable {
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/** What was being done to which object where, and how to get past a refusal: for {@link accessError}. */
export interface AccessAttempt {
  /** `create`, `read` or `write`. */
  operation: 'create' | 'read' | 'write';
  /** e.g. `table tally_gather_state`. */
  object: string;
  /** e.g. `the controller database`. */
  where: string;
  /** The grant that would allow it (default: CREATE on the schema; SELECT; SELECT, INSERT, UPDATE). */
  grant?: string;
  /** Another way round it, e.g. `keep state elsewhere with --state-db or --state-file`. */
  elsewhere?: string;
}

const GRANTS: Record<AccessAttempt['operation'], string> = {
  create: 'give the role CREATE there',
  read: 'GRANT SELECT on it to the role',
  write: 'GRANT SELECT, INSERT, UPDATE on it to the role',
};

/** A missing privilege or a read-only server, as one line naming the object, the operation and the ways out. */
export class AccessError extends TallyError {}

/**
 * `err` as an AccessError when the server refused for lack of a privilege (42501)
 * or because it is read-only (25006: a hot standby, default_transaction_read_only);
 * `undefined` for any other error. A read-only server is not granted its way out.
 */
export function accessError(err: unknown, a: AccessAttempt): AccessError | undefined {
  const code = (err as { code?: string } | null)?.code;
  if (code !== '42501' && code !== '25006') return undefined;
  const fixes = [...(code === '42501' ? [a.grant ?? GRANTS[a.operation]] : []), ...(a.elsewhere ? [a.elsewhere] : [])];
  return new AccessError(`cannot ${a.operation} ${a.object} in ${a.where} (${errorMessage(err)})${fixes.length ? `; ${fixes.join(' or ')}` : ''}`, {
    cause: err,
  });
}
