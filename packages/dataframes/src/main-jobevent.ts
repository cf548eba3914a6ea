import type { EventListsSql } from './content-usage.js';
import type { TallyDuckDb } from './duckdb.js';
import { Dataframe, type Fold } from './dataframe.js';
import { ident } from './duckdb.js';
import { int, str } from './sql.js';
import type { Column } from './types.js';

/**
 * Python's `\w` on text (the reference's regexes run in pandas): Unicode letters and numbers and
 * `_`. RE2's `\w` is ASCII only, and would give `acmé.zürich.fichier` no collection.
 */
const WORD = String.raw`[\p{L}\p{N}_]`;
/** The reference's collection regex; group 3 is the *last* repetition (RE2 agrees). */
const COLLECTION = String.raw`^(${WORD}+)\.(${WORD}+)\.((${WORD}+)(\.|$))+`;
const STANDALONE_ROLE = String.raw`^(${WORD}+)\.(${WORD}+)$`;

const q = (s: string) => `'${s}'`;

/** The content-usage sheets' keys of an event. */
const CONTENT_NAMES = ['collection_name', 'role_name', 'module_name'] as const;

/**
 * SQL: the collection (`ns.coll`) of a fully qualified content name `expr`, NULL when it has none
 * (the reference's extract_collection_name).
 */
export const collectionOf = (expr: string) =>
  `CASE WHEN regexp_matches(${expr}, ${q(COLLECTION)}) THEN regexp_extract(${expr}, ${q(COLLECTION)}, 1) || '.' || regexp_extract(${expr}, ${q(COLLECTION)}, 2) END`;

/** SQL: the role name of a role `r` as the reference keeps it (`ns.coll.role` or `ns.role`), else 'No role used'. */
const roleOf = (r: string) =>
  `CASE WHEN regexp_matches(${r}, ${q(COLLECTION)}) THEN regexp_extract(${r}, ${q(COLLECTION)}, 1) || '.' || regexp_extract(${r}, ${q(COLLECTION)}, 2) || '.' || regexp_extract(${r}, ${q(COLLECTION)}, 3) ` +
  `WHEN regexp_matches(${r}, ${q(STANDALONE_ROLE)}) THEN ${r} ELSE 'No role used' END`;

/**
 * SQL: the rows of `from` (module_name, role, and `keep`) with the names of their content:
 * collection_name, role_name. Runs the regexes once per row: `from` must hold few (distinct pairs).
 */
const namesOf = (from: string, keep = '') =>
  `SELECT module_name, role, COALESCE(${collectionOf('module_name')}, 'No collection used') AS collection_name, ${roleOf('role')} AS role_name${keep ? `, ${keep}` : ''} FROM ${from}`;

/**
 * main_jobevent grouped by host_name, module_name, collection_name, role_name, install_uuid,
 * job_remote_id: task_runs = events, duration = sum of `duration` (missing = 0).
 * Events without task_action or host_name are dropped; module = resolved_action else
 * task_action; role = resolved_role else role, kept only as `ns.coll.role` or `ns.role`.
 *
 * The regexes run once per distinct (module, role) of the rows being grouped, never per event:
 * with Unicode word classes they cost more than reading and grouping the events (a month's
 * 3M events are a few hundred distinct names).
 */
export class MainJobevent extends Dataframe {
  readonly name = 'main_jobevent';
  readonly members = ['main_jobevent.csv', 'config.json'] as const;
  readonly indexColumns = ['host_name', 'module_name', 'collection_name', 'role_name', 'install_uuid', 'job_remote_id'] as const;
  readonly columns: readonly Column[] = [
    { name: 'host_name', type: 'VARCHAR' },
    { name: 'module_name', type: 'VARCHAR' },
    { name: 'collection_name', type: 'VARCHAR' },
    { name: 'role_name', type: 'VARCHAR' },
    { name: 'install_uuid', type: 'VARCHAR' },
    { name: 'job_remote_id', type: 'BIGINT' },
    { name: 'task_runs', type: 'BIGINT' },
    { name: 'duration', type: 'DOUBLE' },
  ];
  constructor(db: TallyDuckDb) {
    super(db, db.tableName('main_jobevent'));
  }

  protected rawColumns(): readonly string[] {
    return ['host_name', 'task_action', 'resolved_action', 'role', 'resolved_role', 'duration', 'job_remote_id'];
  }

  protected folds(): Record<string, Fold> {
    return { task_runs: 'sum', duration: 'sum' };
  }

  /** A prepared event keeps its role as written (`role`); `aggregateSelect` names it. */
  protected readonly preparedColumns: readonly Column[] = [
    { name: 'host_name', type: 'VARCHAR' },
    { name: 'module_name', type: 'VARCHAR' },
    { name: 'role', type: 'VARCHAR' },
    { name: 'install_uuid', type: 'VARCHAR' },
    { name: 'job_remote_id', type: 'BIGINT' },
    { name: 'duration', type: 'DOUBLE' },
  ];

  protected prepareSql(member: string, src: string): string | undefined {
    if (member !== 'main_jobevent.csv') return undefined;
    return (
      `SELECT ${str('host_name')} AS host_name, COALESCE(${str('resolved_action')}, ${str('task_action')}) AS module_name, ` +
      `COALESCE(${str('resolved_role')}, ${str('role')}) AS role, CAST($2 AS VARCHAR) AS install_uuid, ` +
      `${int('job_remote_id')} AS job_remote_id, COALESCE(TRY_CAST("duration" AS DOUBLE), 0) AS duration ` +
      `FROM ${src} WHERE ${str('task_action')} IS NOT NULL AND ${str('host_name')} IS NOT NULL`
    );
  }

  /** (module, role) → collection_name, role_name of the rows being grouped. */
  private get namesTable(): string {
    return ident(`${this.table}_names`);
  }

  /**
   * Names every distinct (module, role) of `from` first (a light pass: a few hundred groups),
   * then groups the events by those names, the names table joined in (a tiny hash table).
   */
  protected override async aggregateSelect(from: string): Promise<string> {
    await this.nameContent(from);
    return this.aggregateSql(from);
  }

  /** The names table of every distinct (module, role) of the prepared rows `from`. */
  private async nameContent(from: string): Promise<void> {
    await this.db.run(`CREATE OR REPLACE TEMP TABLE ${this.namesTable} AS ${namesOf(`(SELECT DISTINCT module_name, role FROM ${from})`)}`);
  }

  /**
   * When the events are raw events and staged rollup rows alone: reads each ONCE into `table`, one
   * row per distinct (module, role) of the raw events with its names, and one per names
   * (collection_name, role_name, module_name) of the rollup rows (already named, task runs summed):
   * the names, then `sql.aggregates` over `sql.rows` of those rows (what the content sheets need, so
   * the events are not read again; grouping raw events by (module, role) is what the names pass
   * did). False (nothing written) when grouped rows exist.
   */
  async eventLists(table: string, sql: EventListsSql): Promise<boolean> {
    const pending = await this.pendingRows();
    if (!pending) return false;
    const parts: string[] = [];
    if (pending.hasPrepared || !pending.parquet) {
      const groups = `(SELECT module_name, role, ${sql.aggregates('count(*)')} FROM (${sql.rows(pending.prepared, 'e.module_name, e.role')}) GROUP BY module_name, role)`;
      parts.push(`SELECT * EXCLUDE (role) FROM (${namesOf(groups, '* EXCLUDE (module_name, role)')})`);
    }
    if (pending.parquet) {
      const names = CONTENT_NAMES.map((k) => `e.${k}`).join(', ');
      parts.push(`SELECT ${CONTENT_NAMES.join(', ')}, ${sql.aggregates('sum(rows_task_runs)')} FROM (${sql.rows(pending.parquet, `${names}, e.task_runs AS rows_task_runs`)}) GROUP BY ALL`);
    }
    await this.db.run(`CREATE OR REPLACE TEMP TABLE ${ident(table)} AS ${parts.join(' UNION ALL BY NAME ')}`);
    return true;
  }

  protected override scanMembers(): readonly string[] {
    return ['main_jobevent.csv'];
  }

  /**
   * Every event added so far as rows of `columns`, not regrouped: raw events one row each (named
   * through the names table), rollup rows as grouped. What the content-usage sheets aggregate:
   * sums and distinct counts, the same over grouped and ungrouped rows, so a report reads each
   * event and each rollup row once and never builds the month's grouped table. Consumes nothing.
   *
   * With `ids`, a table keyed by (collection_name, role_name, module_name) holding every key of
   * `contentKeys()` (called just before: it named the raw events), its `columns` are added: raw
   * events get them in the same join as their names (the names table joined to `ids` first).
   */
  async usageRows(ids?: { table: string; columns: readonly string[] }): Promise<string> {
    const pending = await this.pendingRows();
    const extra = (alias: string) => (ids ? ids.columns.map((c) => `, ${alias}${ident(c)}`).join('') : '');
    const sameKeys = (a: string, b: string) => CONTENT_NAMES.map((k) => `${a}.${k} IS NOT DISTINCT FROM ${b}.${k}`).join(' AND ');
    const joinIds = ids ? ` JOIN ${ids.table} i ON ${sameKeys('i', 'g')}` : '';
    const grouped = (from: string) => `SELECT ${this.columns.map((c) => `g.${ident(c.name)}`).join(', ')}${extra('i.')} FROM ${from} g${joinIds}`;
    if (!pending) {
      await this.group();
      return `(${grouped(ident(this.table))})`;
    }
    const parts: string[] = [];
    if (pending.hasPrepared) {
      if (!ids) await this.nameContent(pending.prepared);
      const names = ids ? `(SELECT g.*${extra('i.')} FROM ${this.namesTable} g${joinIds})` : this.namesTable;
      parts.push(
        `SELECT e.host_name, e.module_name, n.collection_name, n.role_name, e.install_uuid, e.job_remote_id, 1::BIGINT AS task_runs, e.duration${extra('n.')} ` +
          `FROM ${pending.prepared} e JOIN ${names} n ON n.module_name = e.module_name AND n.role IS NOT DISTINCT FROM e.role`,
      );
    }
    if (pending.parquet) parts.push(grouped(pending.parquet));
    if (parts.length === 0) return `(SELECT ${this.columns.map((c) => `NULL::${c.type} AS ${ident(c.name)}`).join(', ')}${extra('NULL AS ')} WHERE false)`;
    return `(${parts.join(' UNION ALL ')})`;
  }

  /**
   * Every (collection_name, role_name, module_name) that `usageRows()` will give, as a small
   * relation (duplicates allowed). Raw events are named here, once per distinct (module, role).
   */
  async contentKeys(): Promise<string> {
    const keys = CONTENT_NAMES.join(', ');
    const pending = await this.pendingRows();
    if (!pending) {
      await this.group();
      return `(SELECT DISTINCT ${keys} FROM ${ident(this.table)})`;
    }
    const parts: string[] = [];
    if (pending.hasPrepared) {
      await this.nameContent(pending.prepared);
      parts.push(`SELECT ${keys} FROM ${this.namesTable}`);
    }
    if (pending.parquet) parts.push(`SELECT DISTINCT ${keys} FROM ${pending.parquet}`);
    if (parts.length === 0) return `(SELECT NULL::VARCHAR AS collection_name, NULL::VARCHAR AS role_name, NULL::VARCHAR AS module_name WHERE false)`;
    return `(${parts.join(' UNION ALL ')})`;
  }

  /**
   * The distinct install_uuids of the events added: `prepared`, those of the raw events (their
   * tarballs' config.json), and those read from rollup rows; undefined when there are raw events
   * and `prepared` is not given.
   */
  async installs(prepared: readonly (string | null)[] | undefined): Promise<(string | null)[] | undefined> {
    const pending = await this.pendingRows();
    if (pending?.hasPrepared && !prepared) return undefined;
    const grouped = pending ? pending.parquet : `(SELECT install_uuid FROM ${ident(this.table)})`;
    const read = grouped ? await this.db.all<{ u: string | null }>(`SELECT DISTINCT install_uuid AS u FROM ${grouped}`) : [];
    return [...(pending?.hasPrepared ? (prepared ?? []) : []), ...read.map((r) => r.u)];
  }

  protected aggregateSql(from: string): string {
    const index = this.indexColumns.map((c) => (c === 'collection_name' || c === 'role_name' ? `n.${c}` : `e.${c}`)).join(', ');
    return (
      `SELECT ${index}, CAST(count(*) AS BIGINT), CAST(sum(e.duration) AS DOUBLE) FROM ${from} e ` +
      `JOIN ${this.namesTable} n ON n.module_name = e.module_name AND n.role IS NOT DISTINCT FROM e.role GROUP BY ${index}`
    );
  }
}
