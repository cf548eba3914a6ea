import { JOB_HOST_SUMMARY_ALIASES } from '@tally/extractors';
import { ident, type TallyDuckDb } from './duckdb.js';
import { Dataframe, type Fold } from './dataframe.js';
import { int, int0, jsonArray, jsonPairs, PAIRS_TYPE, str, unionLists } from './sql.js';
import type { Column } from './types.js';

export const DIRECT = 0;
export const INDIRECT = 1;

export interface JobHostSummaryOptions {
  /**
   * Keep only reachable hosts, i.e. keep a DIRECT row only when its counters other than `dark`
   * sum to more than 0 (metrics-utility ≥ 0.5.0; an empty one among them makes the sum empty
   * and drops the row). Default true; false keeps every row, as the 0.4.0 snapshot did.
   */
  reachableOnly?: boolean;
}

const JHS = 'job_host_summary.csv';
const AUDIT = 'main_indirectmanagednodeaudit.csv';

/** job_host_summary.csv columns of schemas 1.0/1.1/1.2 (a superset; missing ones read as NULL). */
const JHS_COLUMNS = [
  'created',
  'host_remote_id',
  'host_name',
  'ansible_host_variable',
  'dark',
  'failures',
  'ok',
  'skipped',
  'ignored',
  'rescued',
  'job_created',
  'job_remote_id',
  'job_template_name',
  'organization_name',
] as const;
const AUDIT_COLUMNS = [
  'created',
  'host_name',
  'canonical_facts',
  'facts',
  'events',
  'task_runs',
  'job_created',
  'job_remote_id',
  'job_template_name',
  'organization_name',
] as const;

/**
 * The counters of a DIRECT row other than `dark`, summed as metrics-utility sums them: a Python
 * `sum()` over the row (`dataframe_jobhost_summary_usage.py`, in 0.4 as at 5c224bb), where an
 * empty counter is pandas' NaN and makes the sum NaN. Here an empty counter is NULL (the raw read
 * gives BIGINT or NULL) and SQL's `+` propagates it the same way.
 * Negative counters are accepted and summed as they are, because the reference does so: it
 * neither refuses nor clamps them, and its filter is `> 0` on the sum (-1 alone drops the row,
 * -1 and 2 keep it with 1). Refusing them would drop tarballs the reference bills from. A
 * counter that is no integer is still refused by the read.
 */
const REACHABLE_RUNS = ['failures', 'ok', 'skipped', 'ignored', 'rescued'].map(ident).join(' + ');

/**
 * job_host_summary (DIRECT; schemas 1.0, 1.1, 1.2 and the `host_id` variant) and
 * main_indirectmanagednodeaudit (INDIRECT), grouped by
 * organization_name, job_template_name, host_name, original_host_name, install_uuid, job_remote_id.
 *
 * Prepare: a missing organization becomes 'No organization name'; a non-empty
 * `ansible_host_variable` replaces host_name (the original stays in original_host_name);
 * task_runs = dark+failures+ok+skipped+ignored+rescued, or 0 when any of them is empty (the
 * reference's row sum is then NaN, which its group sum skips); timestamps are naive UTC and
 * `job_created` is NULL for schemas without it.
 */
export class JobHostSummary extends Dataframe {
  readonly name = 'job_host_summary';
  readonly members = [JHS, AUDIT, 'config.json'] as const;
  readonly indexColumns = [
    'organization_name',
    'job_template_name',
    'host_name',
    'original_host_name',
    'install_uuid',
    'job_remote_id',
  ] as const;
  /**
   * The derived columns are the lists, as a single prepared DIRECT row groups into them (see
   * `singleRowSql`): a rollup part of such rows alone leaves them out (`plainScans`); any other
   * row holds them.
   */
  readonly columns: readonly Column[] = [
    { name: 'organization_name', type: 'VARCHAR' },
    { name: 'job_template_name', type: 'VARCHAR' },
    { name: 'host_name', type: 'VARCHAR' },
    { name: 'original_host_name', type: 'VARCHAR' },
    { name: 'install_uuid', type: 'VARCHAR' },
    { name: 'job_remote_id', type: 'BIGINT' },
    { name: 'host_runs', type: 'BIGINT' },
    { name: 'task_runs', type: 'BIGINT' },
    { name: 'first_automation', type: 'TIMESTAMP' },
    { name: 'last_automation', type: 'TIMESTAMP' },
    { name: 'job_created', type: 'TIMESTAMP' },
    { name: 'managed_node_type', type: 'INTEGER' },
    { name: 'managed_node_types_set', type: 'VARCHAR[]', derived: `CASE WHEN managed_node_type = ${DIRECT} THEN ['DIRECT'] ELSE ['INDIRECT'] END` },
    { name: 'canonical_facts', type: PAIRS_TYPE, derived: `[]::${PAIRS_TYPE}` },
    { name: 'facts', type: PAIRS_TYPE, derived: `[]::${PAIRS_TYPE}` },
    { name: 'events', type: 'VARCHAR[]', derived: '[]::VARCHAR[]' },
    { name: 'host_names_before_dedup', type: 'VARCHAR[]', derived: 'CASE WHEN host_name IS NULL THEN []::VARCHAR[] ELSE [host_name] END' },
  ];
  readonly reachableOnly: boolean;

  constructor(db: TallyDuckDb, opts: JobHostSummaryOptions = {}) {
    super(db, db.tableName('job_host_summary'));
    this.reachableOnly = opts.reachableOnly ?? true;
  }

  protected rawColumns(member: string): readonly string[] {
    return member === AUDIT ? AUDIT_COLUMNS : JHS_COLUMNS;
  }

  /** A tarball's audit rows count only when its job_host_summary.csv has no rows (the reference's rule). */
  protected override exclusiveMembers(): readonly (readonly string[])[] {
    return [[JHS, AUDIT]];
  }

  protected override aliases(): Record<string, readonly string[]> {
    return JOB_HOST_SUMMARY_ALIASES;
  }

  protected folds(): Record<string, Fold> {
    return {
      host_runs: 'sum',
      task_runs: 'sum',
      first_automation: 'min',
      last_automation: 'max',
      job_created: 'max',
      managed_node_type: 'min',
      managed_node_types_set: 'union',
      canonical_facts: 'union',
      facts: 'union',
      events: 'union',
      host_names_before_dedup: 'union',
    };
  }

  protected readonly preparedColumns: readonly Column[] = [
    { name: 'organization_name', type: 'VARCHAR' },
    { name: 'job_template_name', type: 'VARCHAR' },
    { name: 'host_name', type: 'VARCHAR' },
    { name: 'original_host_name', type: 'VARCHAR' },
    { name: 'install_uuid', type: 'VARCHAR' },
    { name: 'job_remote_id', type: 'BIGINT' },
    { name: 'task_runs', type: 'BIGINT' },
    { name: 'created', type: 'TIMESTAMP' },
    { name: 'job_created', type: 'TIMESTAMP' },
    { name: 'managed_node_type', type: 'INTEGER' },
    { name: 'canonical_facts', type: PAIRS_TYPE },
    { name: 'facts', type: PAIRS_TYPE },
    { name: 'events', type: 'VARCHAR[]' },
  ];

  protected prepareSql(member: string, src: string): string | undefined {
    const common =
      `COALESCE(${str('organization_name')}, 'No organization name'), ${str('job_template_name')}, `;
    if (member === JHS) {
      // Facts and events stay NULL on DIRECT rows (free to store; only INDIRECT rows are list-aggregated).
      // Rows left out are still checked (a hash is never NULL, but no optimizer folds that away):
      // whether a tarball is refused must not depend on reachableOnly.
      const checked = `hash(${ident('created')}, ${ident('job_created')}, ${ident('job_remote_id')}) IS NULL`;
      // The filter's sum is computed once, below it, and task_runs adds dark to it (written out
      // twice, the five conversions and sums ran once for the filter and again for task_runs:
      // ~2 % of the instructions of a day's scan-and-write). No sum of counts below 2^53 overflows.
      const runs = ident('task_runs_but_dark');
      const [from, taskRuns] = this.reachableOnly
        ? [`(SELECT *, ${REACHABLE_RUNS} AS ${runs} FROM ${src}) WHERE ${runs} > 0 OR ${checked}`, `COALESCE(${ident('dark')} + ${runs}, 0)`]
        : [src, `COALESCE(${ident('dark')} + ${REACHABLE_RUNS}, 0)`];
      return (
        `SELECT ${common}COALESCE(${str('ansible_host_variable')}, ${str('host_name')}), ${str('host_name')}, ` +
        `CAST($2 AS VARCHAR), ${int('job_remote_id')}, ${taskRuns}, ` +
        `${ident('created')}, ${ident('job_created')}, ${DIRECT}, NULL, NULL, NULL ` +
        `FROM ${from}`
      );
    }
    if (member === AUDIT) {
      return (
        `SELECT ${common}${str('host_name')}, ${str('host_name')}, CAST($2 AS VARCHAR), ${int('job_remote_id')}, ` +
        `${int0('task_runs')}, ${ident('created')}, ${ident('job_created')}, ${INDIRECT}, ` +
        `${jsonPairs('canonical_facts')}, ${jsonPairs('facts')}, ${jsonArray('events')} FROM ${src}`
      );
    }
    return undefined;
  }

  /**
   * The host and the job alone: within a job, a host nearly always has one row, so few indexes
   * share it by chance (and those are only regrouped for nothing, exactly). Reading three of the
   * six index columns back from a month's Parquet cost a third of the CPU of reading all six.
   */
  protected override get fingerprint(): string {
    return 'hash(host_name, install_uuid, job_remote_id)';
  }

  /** DIRECT rows come straight from the scan; the INDIRECT part of `aggregateSql` prunes them. */
  protected override scanMembers(): readonly string[] {
    return [JHS];
  }

  /**
   * A month groups ~6M rows into nearly as many groups, and a hash aggregation holding six keys
   * and eight states per group outgrows memory and spills. Nearly every group has one row, and
   * a one-row group is that row reshaped (`singleRowSql`). So a first pass finds the indexes
   * seen more than once (by `fingerprint`) and only their rows are aggregated; a second reshapes
   * the rest. Exact: equal indexes hash equally, and a hash shared by chance only sends more
   * rows to the aggregation. (`groupToParquet` needs only one read of the rows: see there.)
   */
  protected override async aggregateSelect(from: string): Promise<string> {
    const fp = this.fingerprint;
    const multi = ident(this.multiTable);
    await this.db.run(
      `CREATE OR REPLACE TEMP TABLE ${multi} AS SELECT fp, min(managed_node_type) = ${DIRECT} AS direct ` +
        `FROM (SELECT ${fp} AS fp, managed_node_type FROM ${from}) GROUP BY fp HAVING count(*) > 1`,
    );
    const [m] = await this.db.all<{ n: bigint; direct: bigint }>(
      `SELECT count(*) AS n, count(*) FILTER (WHERE direct) AS direct FROM ${multi}`,
    );
    if (Number(m?.n ?? 0) === 0) return this.singleRowSql(from);
    // Without a DIRECT row among them, the filter on the type prunes the CSV scans (DIRECT only).
    const direct = Number(m?.direct ?? 0) > 0 ? '' : `managed_node_type <> ${DIRECT} AND `;
    const once = this.singleRowSql(`(SELECT * FROM ${from} WHERE ${fp} NOT IN (SELECT fp FROM ${multi}))`);
    const several = this.aggregateSql(`(SELECT * FROM ${from} WHERE ${direct}${fp} IN (SELECT fp FROM ${multi}))`);
    return `${once} UNION ALL ${several}`;
  }

  /**
   * One prepared row as its own group: its derived columns (see `columns`), and an INDIRECT row's
   * lists made sorted and distinct as the aggregation's unions make them, so that regrouping such
   * rows equals `aggregateSql`. DIRECT rows have no lists (and are nearly all rows: no list
   * function runs on them).
   */
  protected override singleRowSql(from: string): string {
    const set = (col: string, type: string) =>
      `CASE WHEN managed_node_type = ${DIRECT} THEN NULL ELSE list_sort(list_distinct(COALESCE(${col}, []::${type}))) END AS ${col}`;
    const row =
      `SELECT ${this.indexColumns.join(', ')}, CAST(host_name IS NOT NULL AS BIGINT) AS host_runs, task_runs, created AS first_automation, ` +
      `created AS last_automation, job_created, managed_node_type, ${set('canonical_facts', PAIRS_TYPE)}, ${set('facts', PAIRS_TYPE)}, ` +
      `${set('events', 'VARCHAR[]')} FROM ${from}`;
    const derivedAlone = ['managed_node_types_set', 'host_names_before_dedup'];
    return this.withDerived(`(${row})`, this.columns.map((c) => c.name).filter((c) => !derivedAlone.includes(c)));
  }

  /** Staged scans read job_host_summary.csv alone: DIRECT rows, whose single-row groups hold every derived column as derived. */
  protected override get plainScans(): boolean {
    return true;
  }

  protected aggregateSql(from: string): string {
    const index = this.indexColumns.join(', ');
    const same = this.indexColumns.map((c) => `a.${c} IS NOT DISTINCT FROM i.${c}`).join(' AND ');
    // Facts and events only come with INDIRECT rows: list aggregation (per-group state, costly
    // on millions of DIRECT groups) runs on those alone and is joined back.
    return (
      `SELECT ${this.indexColumns.map((c) => `a.${c}`).join(', ')}, a.host_runs, a.task_runs, a.first_automation, ` +
      `a.last_automation, a.job_created, a.managed_node_type, ` +
      `CASE WHEN a.managed_node_type = ${DIRECT} AND a.max_type = ${INDIRECT} THEN ['DIRECT', 'INDIRECT'] ` +
      `WHEN a.managed_node_type = ${DIRECT} THEN ['DIRECT'] ELSE ['INDIRECT'] END, ` +
      `COALESCE(i.canonical_facts, []::${PAIRS_TYPE}), COALESCE(i.facts, []::${PAIRS_TYPE}), COALESCE(i.events, []::VARCHAR[]), ` +
      `CASE WHEN a.host_name IS NULL THEN []::VARCHAR[] ELSE [a.host_name] END ` +
      `FROM (SELECT ${index}, CAST(count(host_name) AS BIGINT) AS host_runs, CAST(sum(task_runs) AS BIGINT) AS task_runs, ` +
      `min(created) AS first_automation, max(created) AS last_automation, max(job_created) AS job_created, ` +
      `CAST(min(managed_node_type) AS INTEGER) AS managed_node_type, max(managed_node_type) AS max_type ` +
      `FROM ${from} GROUP BY ${index}) a ` +
      `LEFT JOIN (SELECT ${index}, ${unionLists('canonical_facts')} AS canonical_facts, ${unionLists('facts')} AS facts, ` +
      `${unionLists('events')} AS events FROM ${from} WHERE managed_node_type = ${INDIRECT} GROUP BY ${index}) i ON ${same}`
    );
  }
}
