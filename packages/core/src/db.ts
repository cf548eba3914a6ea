/**
 * The smallest database surface Tally needs; `pg.Client`, `pg.PoolClient` and
 * PGlite all satisfy it, so core does not depend on a driver.
 */
export interface Queryable {
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}
