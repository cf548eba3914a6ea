import type pg from 'pg';

/**
 * How a SQL query decides whether host `variables` text is JSON (else it is read
 * as YAML `key: value` / `key=value` lines, as the reference does):
 * - `pg_input_is_valid`: PostgreSQL 16+, no side effect at all;
 * - `temp-function`: older servers; a PL/pgSQL checker created in `pg_temp` for this
 *   session only (nothing is written to the controller's schemas);
 * - `regex`: older servers where temporary objects cannot be created (read-only
 *   standby, no TEMP privilege); only flat JSON objects of scalars are recognised,
 *   nested ones fall through to the YAML reader.
 */
export type JsonCheck = 'pg_input_is_valid' | 'temp-function' | 'regex';

const TEMP_FUNCTION = `CREATE OR REPLACE FUNCTION pg_temp.tally_is_jsonb(p text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN
  IF p IS NULL THEN RETURN false; END IF;
  PERFORM p::jsonb;
  RETURN true;
EXCEPTION WHEN others THEN
  RETURN false;
END
$fn$`;

const JSON_STRING = `"([^"\\\\[:cntrl:]]|\\\\["\\\\/bfnrt]|\\\\u(?!0000)[0-9a-fA-F]{4})*"`;
const JSON_SCALAR = `(${JSON_STRING}|-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][-+]?[0-9]+)?|true|false|null)`;
const JSON_MEMBER = `${JSON_STRING}\\s*:\\s*${JSON_SCALAR}`;
/** A flat JSON object of scalars (no `\u0000`, which jsonb rejects). */
export const FLAT_JSON_OBJECT = `^\\s*\\{\\s*(${JSON_MEMBER}(\\s*,\\s*${JSON_MEMBER})*)?\\s*\\}\\s*$`;

/** Pick (and for `temp-function`, install) the JSON check for this session. */
export async function prepareJsonCheck(db: pg.ClientBase, force?: JsonCheck): Promise<JsonCheck> {
  if (force === 'regex') return 'regex';
  const { rows } = await db.query<{ version: number; read_only: string; temp: boolean }>(
    `SELECT current_setting('server_version_num')::int AS version,
            current_setting('transaction_read_only') AS read_only,
            has_database_privilege(current_database(), 'TEMP') AS temp`,
  );
  const r = rows[0]!;
  if (r.version >= 160000 && force !== 'temp-function') return 'pg_input_is_valid';
  if (r.read_only === 'on' || !r.temp) return 'regex';
  await db.query(TEMP_FUNCTION);
  return 'temp-function';
}

export function isJsonSql(check: JsonCheck, expr: string): string {
  switch (check) {
    case 'pg_input_is_valid':
      return `(${expr} IS NOT NULL AND pg_input_is_valid(${expr}, 'jsonb'))`;
    case 'temp-function':
      return `pg_temp.tally_is_jsonb(${expr})`;
    case 'regex':
      return `(${expr} IS NOT NULL AND ${expr} ~ '${FLAT_JSON_OBJECT}')`;
  }
}

const FIELD = /^[a-z_]+$/;

/**
 * `variables` read as JSON when valid, else as YAML lines: the reference's
 * `metrics_utility_parse_yaml_field` regex `(?n)^field *[:=] *(.+?) *$` with
 * surrounding double quotes stripped, inlined so no function is installed.
 */
export function hostVariableSql(check: JsonCheck, variables: string, field: string): string {
  if (!FIELD.test(field)) throw new RangeError(`host variable name "${field}" must match ${FIELD}`);
  return `CASE WHEN ${isJsonSql(check, variables)} THEN (${variables})::jsonb->>'${field}'
    ELSE btrim(substring(${variables} from '(?n)^${field} *[:=] *(.+?) *$'), '"') END`;
}
