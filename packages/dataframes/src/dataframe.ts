import { mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { TallyError, errorMessage, mapConcurrent } from '@tally/core';
import { CSV_SCHEMAS, type CsvFieldKind, csvPrepareNative, type ExtractedTarball, prepareCsvFile } from '@tally/extractors';
import type { Table } from 'apache-arrow';
import { assertUtf8, CsvError, csvHasRows, explainCsvError, integerColumns, integerTypes, readCsvSql, readMemberHeader, timestampColumns } from './csv.js';
import { ident, isOutOfMemory, literal, type TallyDuckDb } from './duckdb.js';
import { PAIRS_TYPE, PARQUET_V2, pairsToJson, ts, wholeNumber } from './sql.js';
import type { BatchContext, Column } from './types.js';

/** Write `mapping` (host name → host name) into a new table `name` (from_name, to_name), replacing it; returns `name`. */
export async function writeHostNameMap(db: TallyDuckDb, name: string, mapping: ReadonlyMap<string, string>): Promise<string> {
  await db.run(`CREATE OR REPLACE TABLE ${ident(name)} (from_name VARCHAR PRIMARY KEY, to_name VARCHAR)`);
  const appender = await db.connection.createAppender(name);
  for (const [from, to] of mapping) {
    appender.appendVarchar(from);
    appender.appendVarchar(to);
    appender.endRow();
  }
  appender.closeSync();
  return name;
}

/** A tarball's install_uuid (config.json) as the dataframes read it: text, else none. */
export async function installUuidOf(tarball: ExtractedTarball): Promise<string | null> {
  const uuid = (await tarball.config())?.install_uuid;
  return typeof uuid === 'string' ? uuid : null;
}

/** How a data column is folded when grouped rows are regrouped. */
export type Fold = 'sum' | 'min' | 'max' | 'union';

/**
 * A named dataframe on DuckDB. Raw CSV rows are prepared into `rawTable`; grouped Parquet
 * rollups go to `stagingTable` as they are; `group()` groups the raw rows and folds everything
 * into the grouped table `table`, which a report may query with SQL directly.
 * Set columns are sorted, distinct `VARCHAR[]` lists; JSON-set columns (`facts`,
 * `canonical_facts`) are sorted, distinct `STRUCT(key VARCHAR, value VARCHAR)[]` lists.
 * Every method creates the tables on first use; call `init()` first to query `table` directly.
 */
export abstract class Dataframe {
  /** e.g. `job_host_summary`; also the rollup directory name. */
  abstract readonly name: string;
  /** Tarball members this dataframe reads (`config.json` included when install_uuid is needed). */
  abstract readonly members: readonly string[];
  /** Grouped table columns, index columns first. */
  abstract readonly columns: readonly Column[];
  /** Columns that identify a grouped row (empty for concat-only dataframes). */
  abstract readonly indexColumns: readonly string[];
  readonly db: TallyDuckDb;
  /** The grouped table (exists after `init()`, so its columns are known even when empty). */
  readonly table: string;
  /** Grouped rows (from Parquet) waiting for `group()`. */
  readonly stagingTable: string;
  /** Prepared raw CSV rows waiting for `group()`; DuckDB spills it to disk when large. */
  readonly rawTable: string;
  /** CSV / Parquet files added so far (also empty ones). */
  sources = 0;
  private ready = false;
  /** Prepared-row SELECTs over CSV scans, folded in by the next `group()`. */
  private pendingScans: string[] = [];
  /** Parquet files (grouped rows) staged by `stageParquet` with their columns, read by the next grouping. */
  private pendingParquet: { path: string; names: readonly string[] }[] = [];
  /**
   * Of `table`, `stagingTable` and `rawTable`, those that may hold rows (written since last
   * emptied): the others are neither counted nor emptied. A day's rollup otherwise spent ~20
   * statements on tables known to be empty.
   */
  private filled = new Set<string>();

  constructor(db: TallyDuckDb, tablePrefix: string) {
    this.db = db;
    this.table = tablePrefix;
    this.stagingTable = `${tablePrefix}_staging`;
    this.rawTable = `${tablePrefix}_raw`;
  }

  /** Raw CSV columns read for `member` (missing ones become NULL). */
  protected abstract rawColumns(member: string): readonly string[];
  /** Alternative raw names: `{canonical: [alias…]}` (e.g. `host_remote_id` ← `host_id`). */
  protected aliases(): Record<string, readonly string[]> {
    return {};
  }
  /** Columns of a prepared (cleaned, not yet grouped) row. */
  protected abstract readonly preparedColumns: readonly Column[];
  /**
   * SQL producing prepared rows (exactly `preparedColumns`, in order) from `src`, a relation of
   * the raw columns (see `rawSelect`: counts BIGINT, timestamps TIMESTAMP, the rest VARCHAR). `$2` is
   * bound to the batch's install_uuid. Undefined skips the member.
   */
  protected abstract prepareSql(member: string, src: string): string | undefined;
  /** SQL grouping prepared rows of relation `from` into exactly `columns`, in order. */
  protected abstract aggregateSql(from: string): string;
  /**
   * The SELECT that groups prepared rows `from` (default: `aggregateSql`). A dataframe may run
   * statements first, e.g. to learn which groups have more than one row; what they leave behind
   * must stay valid until the SELECT has run.
   */
  protected async aggregateSelect(from: string): Promise<string> {
    return this.aggregateSql(from);
  }
  /**
   * SELECT turning each prepared row of `from` into the grouped row it would be alone (exactly
   * `columns`, in order), such that `regroupSql` over those rows equals `aggregateSql`; undefined
   * (the default) when the dataframe has none. With it, `groupToParquet` writes every row so
   * reshaped and regroups only the indexes that occur more than once.
   */
  protected singleRowSql(_from: string): string | undefined {
    return undefined;
  }
  /** Fingerprints of the indexes that occur more than once (while grouping). */
  protected get multiTable(): string {
    return `${this.table}_multi`;
  }
  /** A BIGINT over the index columns, equal for equal indexes (NULLs included). */
  protected get fingerprint(): string {
    return `hash(${this.indexColumns.map(ident).join(', ')})`;
  }
  /** Fold of each data column for regroup; empty = concat-only dataframe. */
  protected abstract folds(): Record<string, Fold>;

  /** Create the (empty) grouped and staging tables; idempotent. */
  async init(): Promise<this> {
    if (this.ready) return this;
    const cols = this.columns.map((c) => `${ident(c.name)} ${c.type}`).join(', ');
    await this.db.run(`CREATE TABLE ${ident(this.table)} (${cols})`);
    await this.db.run(`CREATE TABLE ${ident(this.stagingTable)} (${cols})`);
    const raw = this.preparedColumns.map((c) => `${ident(c.name)} ${c.type}`).join(', ');
    await this.db.run(`CREATE TABLE ${ident(this.rawTable)} (${raw})`);
    this.filled.clear();
    this.ready = true;
    return this;
  }

  private get columnList(): string {
    return this.columns.map((c) => ident(c.name)).join(', ');
  }

  /** Member a file stands for: its base name when it is one of `members`, else the first member. */
  protected memberOf(path: string, ctx: BatchContext): string {
    if (ctx.member) return ctx.member;
    const base = basename(path);
    return this.members.includes(base) ? base : this.members[0]!;
  }

  /**
   * Read and prepare raw CSV file(s) (any known schema version each) for `group()`, all or none:
   * a file that does not read as its member's schema throws a `CsvError` naming its line.
   * Returns rows kept.
   */
  async addCsv(paths: string | readonly string[], ctx: BatchContext = {}): Promise<number> {
    await this.init();
    const list = typeof paths === 'string' ? [paths] : paths;
    let staged = 0;
    const sources = this.sources;
    await this.db.run('BEGIN TRANSACTION');
    try {
      for (const path of list) staged += await this.addOneCsv(path, ctx);
      await this.db.run('COMMIT');
    } catch (err) {
      await this.db.run('ROLLBACK');
      this.sources = sources;
      throw await explainCsvError(this.db, err);
    }
    return staged;
  }

  private async addOneCsv(path: string, ctx: BatchContext): Promise<number> {
    const source = ctx.source ?? path;
    const member = this.memberOf(path, ctx);
    const header = await readMemberHeader(path, source, member);
    this.sources += 1;
    if (header.length === 0) return 0;
    const prepared = this.prepareSql(member, this.rawSelect(member, header, '$1'));
    if (!prepared) return 0;
    await assertUtf8(path, source, member);
    try {
      const params = prepared.includes('$2') ? [path, ctx.installUuid ?? null] : [path];
      const cols = this.preparedColumns.map((c) => ident(c.name)).join(', ');
      this.filled.add(this.rawTable);
      return await this.db.run(`INSERT INTO ${ident(this.rawTable)} (${cols}) ${prepared}`, params);
    } catch (err) {
      if (isOutOfMemory(err)) throw err;
      throw new CsvError(source, member, `does not read as ${member}: ${errorMessage(err)}`, undefined, { path, header }, { cause: err });
    }
  }

  /**
   * Add the members of an extracted tarball this dataframe reads (install_uuid from its
   * config.json). All of them or none: a failing member rolls the tarball back.
   */
  async addTarball(tarball: ExtractedTarball): Promise<number> {
    await this.init();
    await this.db.run('BEGIN TRANSACTION');
    try {
      const staged = await this.addTarballRows(tarball);
      await this.db.run('COMMIT');
      return staged;
    } catch (err) {
      await this.db.run('ROLLBACK');
      throw err;
    }
  }

  /** `addTarball` without its own transaction (the caller holds one). */
  async addTarballRows(tarball: ExtractedTarball): Promise<number> {
    await this.init();
    const installUuid = await installUuidOf(tarball);
    let staged = 0;
    for (const { member, path } of await this.tarballMembers(tarball)) {
      staged += await this.addOneCsv(path, { installUuid, source: tarball.name, member });
    }
    return staged;
  }

  /**
   * Groups of members of which a tarball contributes only the first holding data rows (the
   * reference reads main_indirectmanagednodeaudit.csv only when job_host_summary.csv is empty,
   * main_host_daily.csv only when main_host.csv is). Default none.
   */
  protected exclusiveMembers(): readonly (readonly string[])[] {
    return [];
  }

  /** The CSV members of `tarball` this dataframe reads, with their paths (see `exclusiveMembers`). */
  private async tarballMembers(tarball: ExtractedTarball): Promise<{ member: string; path: string }[]> {
    const present = this.members.filter((m) => m.endsWith('.csv') && tarball.file(m));
    const skipped = new Set<string>();
    for (const group of this.exclusiveMembers()) {
      const inGroup = present.filter((m) => group.includes(m));
      if (inGroup.length < 2) continue; // nothing to choose (the usual tarball: no file is opened)
      let chosen: string | undefined;
      for (const m of inGroup) {
        if (await csvHasRows(tarball.file(m)!, `${tarball.name}: ${m}`)) {
          chosen = m;
          break;
        }
      }
      // None has rows: the first is still read (its header counts as a source, it adds nothing).
      chosen ??= inGroup[0];
      for (const m of inGroup) if (m !== chosen) skipped.add(m);
    }
    return present.filter((m) => !skipped.has(m)).map((member) => ({ member, path: tarball.file(member)! }));
  }

  /**
   * The prepared-row SELECTs reading `tarballs`' members: files of one member sharing a header
   * and an install_uuid are read by ONE parallel `read_csv([...])`. Counts every file as a source.
   */
  private async batchScans(tarballs: readonly ExtractedTarball[]): Promise<{ member: string; sql: string }[]> {
    const batches = new Map<string, { member: string; header: string[]; installUuid: string | null; paths: string[]; sources: Map<string, string> }>();
    for (const tarball of tarballs) {
      const installUuid = await installUuidOf(tarball);
      for (const { member, path } of await this.tarballMembers(tarball)) {
        const header = await readMemberHeader(path, tarball.name, member);
        this.sources += 1;
        if (header.length === 0) continue;
        const key = JSON.stringify([member, header, installUuid]);
        let batch = batches.get(key);
        if (!batch) {
          batch = { member, header, installUuid, paths: [], sources: new Map() };
          batches.set(key, batch);
        }
        batch.paths.push(path);
        batch.sources.set(path, tarball.name);
      }
    }
    const out: { member: string; sql: string }[] = [];
    const typed = this.preparedColumns.map((c, i) => `CAST(#${i + 1} AS ${c.type}) AS ${ident(c.name)}`).join(', ');
    for (const b of batches.values()) {
      // A member this dataframe does not read is neither prepared nor scanned.
      if (this.prepareSql(b.member, '(SELECT 1)') === undefined) continue;
      const kinds = this.preparedKinds(b.member, b.header);
      const files = await this.prepareFiles(b.header, kinds, b.paths);
      for (const path of files.raw) await assertUtf8(path, b.sources.get(path) ?? path, b.member);
      const reads = [
        ...(files.prepared.length ? [this.rawSelect(b.member, b.header, fileList(files.prepared), true)] : []),
        ...(files.raw.length ? [this.rawSelect(b.member, b.header, fileList(files.raw))] : []),
      ];
      // Several scans may end up in one statement: the install_uuid ($2) becomes a literal.
      const uuid = b.installUuid === null ? 'NULL' : literal(b.installUuid);
      for (const read of reads) {
        const prepared = this.prepareSql(b.member, read)!;
        out.push({ member: b.member, sql: `SELECT ${typed} FROM (${prepared.replaceAll('$2', uuid)})` });
      }
    }
    return out;
  }

  /**
   * `addTarballRows` for many tarballs with as few CSV scans as possible (see `batchScans`). The
   * caller holds the transaction; any failure must roll back every tarball of the batch (then use
   * `addTarballRows` per tarball to find the bad one). Returns rows kept.
   */
  async addTarballsRows(tarballs: readonly ExtractedTarball[]): Promise<number> {
    await this.init();
    let staged = 0;
    const cols = this.preparedColumns.map((c) => ident(c.name)).join(', ');
    for (const scan of await this.batchScans(tarballs)) {
      this.filled.add(this.rawTable);
      staged += await this.db.run(`INSERT INTO ${ident(this.rawTable)} (${cols}) ${scan.sql}`);
    }
    return staged;
  }

  /**
   * Like `addTarballsRows`, but the CSVs of `scanMembers` are not copied into the raw table:
   * the next `group()` aggregates them straight from their `read_csv` scan (the files must stay
   * until then; a CSV that cannot be read makes that `group()` fail). The caller holds one
   * transaction over both calls.
   */
  async stageTarballs(tarballs: readonly ExtractedTarball[]): Promise<void> {
    await this.init();
    const cols = this.preparedColumns.map((c) => ident(c.name)).join(', ');
    for (const scan of await this.batchScans(tarballs)) {
      if (this.scanMembers().includes(scan.member)) this.pendingScans.push(scan.sql);
      else {
        this.filled.add(this.rawTable);
        await this.db.run(`INSERT INTO ${ident(this.rawTable)} (${cols}) ${scan.sql}`);
      }
    }
  }

  /**
   * What this dataframe keeps outside DuckDB, which a rolled-back transaction does not restore
   * (files counted, scans and Parquet files staged; a grouping consumes them): call the result
   * after the rollback to restore it.
   */
  checkpoint(): () => void {
    const [sources, scans, parquet, filled] = [this.sources, [...this.pendingScans], [...this.pendingParquet], new Set(this.filled)];
    return () => {
      this.sources = sources;
      this.pendingScans = scans;
      this.pendingParquet = parquet;
      // Rows a rolled-back DELETE brings back: the tables that held them may hold rows again.
      for (const t of filled) this.filled.add(t);
    };
  }

  /** Remove every raw row and staged scan, keeping grouped rows and Parquet (to read the tarballs again). */
  async clearRaw(): Promise<void> {
    await this.init();
    await this.empty([this.rawTable]);
    this.pendingScans = [];
  }

  /**
   * Members whose (large) CSVs `group()` may aggregate directly from the scan: each read of
   * the relation reads those CSVs again, so the aggregation reads it as few times as it can (a
   * filter that is constant-false on them is free: DuckDB prunes that branch).
   */
  protected scanMembers(): readonly string[] {
    return [];
  }

  /**
   * Do the staged scans' rows group, each alone, into rows whose derived columns (see `Column`)
   * all hold their derived value? Then a part of them leaves those columns out. Default false.
   */
  protected get plainScans(): boolean {
    return false;
  }

  /**
   * SELECT of `relation`, which holds the columns `present`, as exactly `columns` (typed, in
   * order): a derived column is its value where there is one, else derived; any other absent
   * column is NULL. The one reading of a part that may leave derived columns out.
   */
  protected withDerived(relation: string, present: Iterable<string>): string {
    const has = new Set(present);
    const select = this.columns.map((c) => {
      const col = ident(c.name);
      const value = has.has(c.name)
        ? c.derived === undefined ? col : `COALESCE(${col}, ${c.derived})`
        : (c.derived ?? 'NULL');
      return `CAST(${value} AS ${c.type}) AS ${col}`;
    });
    return `SELECT ${select.join(', ')} FROM ${relation}`;
  }

  /** The rows of Parquet parts written by this dataframe (any of its versions), as `columns` (see `withDerived`). */
  async parquetRelation(paths: readonly string[]): Promise<string> {
    const files = `[${paths.map(literal).join(', ')}]`;
    const [schema] = await this.db.all<{ names: string[] }>(`SELECT list(DISTINCT name) AS names FROM parquet_schema(${files})`);
    return `(${this.withDerived(`read_parquet(${files}, union_by_name = true)`, schema?.names ?? [])})`;
  }

  /**
   * The raw-column relation of a strict CSV read (missing columns NULL, aliases applied): the
   * member's count columns come out BIGINT (`wholeNumber`) and its timestamps TIMESTAMP (`ts`), so
   * `prepareSql` takes both typed. Any such value that does not parse, an unterminated quote or a
   * row of the wrong length fails the read. With `prepared`, `files` are Parquet files written by
   * `prepareCsvFile` from such CSVs, whose counts and timestamps the preparer has already checked and
   * written as integers (timestamps in epoch microseconds): the same relation, far cheaper to read.
   */
  private rawSelect(member: string, header: readonly string[], files: string, prepared = false): string {
    const counts = new Set(integerColumns(member, header));
    const times = new Set(timestampColumns(member, header));
    const names = this.headerNames(member, header);
    const select = this.rawColumns(member).map((c) => {
      const name = names.get(c);
      if (!name) return `NULL::${CSV_SCHEMAS[member]?.timestamps.includes(c) ? 'TIMESTAMP' : 'VARCHAR'} AS ${ident(c)}`;
      if (times.has(name)) return `${prepared ? `make_timestamp(${ident(name)})` : ts(name)} AS ${ident(c)}`;
      return `${counts.has(name) && !prepared ? wholeNumber(name) : ident(name)} AS ${ident(c)}`;
    });
    const reader = prepared ? `read_parquet(${files})` : readCsvSql(header, files, integerTypes(member, header));
    return `(SELECT ${select.join(', ')} FROM ${reader})`;
  }

  /** Each raw column of `member` that `header` has, by its own name or an alias → the header's name. */
  private headerNames(member: string, header: readonly string[]): Map<string, string> {
    const present = new Set(header);
    const aliases = this.aliases();
    const out = new Map<string, string>();
    for (const c of this.rawColumns(member)) {
      const name = present.has(c) ? c : aliases[c]?.find((a) => present.has(a));
      if (name) out.set(c, name);
    }
    return out;
  }

  /**
   * What `prepareCsvFile` keeps of a `member` CSV with `header`: the columns `rawColumns` reads
   * (counts as counts, timestamps as timestamps, the rest as text), and every count column even
   * when unread, since the strict read checks those too; the rest is checked and left out.
   */
  private preparedKinds(member: string, header: readonly string[]): CsvFieldKind[] {
    const used = new Set(this.headerNames(member, header).values());
    const counts = new Set(integerColumns(member, header));
    const times = new Set(timestampColumns(member, header));
    return header.map((h) => (counts.has(h) ? 'count' : !used.has(h) ? 'skip' : times.has(h) ? 'timestamp' : 'text'));
  }

  /**
   * Prepare the batch's files for a cheaper read (see `prepareCsvFile`), at most two at a time
   * (each holds a 4 MiB read buffer and a row group of output while it runs): the files prepared, by the
   * path written, and the paths left to read as they are (refused by the preparer, or no
   * preparer built, or it failed). Both reads give the same rows; a refused file's problem is
   * found by the strict read.
   */
  private async prepareFiles(header: readonly string[], kinds: readonly CsvFieldKind[], paths: readonly string[]): Promise<{ prepared: string[]; raw: string[] }> {
    if (!csvPrepareNative) return { prepared: [], raw: [...paths] };
    // An I/O failure (say, a full disk) leaves the file to the strict read, like a refusal.
    const results = await mapConcurrent(paths, 2, (path) => prepareCsvFile(path, `${path}.prepared`, header, kinds).catch(() => undefined));
    const done = (i: number) => {
      const result = results[i];
      return result !== undefined && 'rows' in result;
    };
    return { prepared: paths.filter((_p, i) => done(i)).map((p) => `${p}.prepared`), raw: paths.filter((_p, i) => !done(i)) };
  }


  /** Add already-grouped rows from Parquet file(s) written by `toParquet` (a rollup). */
  async addParquet(paths: string | readonly string[]): Promise<number> {
    const rows = await this.addParquetFiles(typeof paths === 'string' ? [paths] : paths);
    return rows.reduce((a, b) => a + b, 0);
  }

  /**
   * `addParquet`, returning the rows of each file. The files are read by column set, one
   * statement per set (a statement costs ~10 CPU-ms however small its file: 30 days' small parts
   * one by one cost ~0.35 CPU-s). A failure names the file(s) of the statement that failed.
   */
  async addParquetFiles(list: readonly string[]): Promise<number[]> {
    await this.init();
    if (list.length === 0) return [];
    const files = `[${list.map(literal).join(', ')}]`;
    const fail = (err: unknown, names: readonly string[]) =>
      new TallyError(`${names.join(', ')}: Parquet could not be read as ${this.name}: ${errorMessage(err)}`, { cause: err });
    let meta: { file_name: string; names: string[] | null; n: bigint | null }[];
    try {
      // Each file's columns and its rows side by side, not joined: the join of the two table
      // functions cost 10–20 ms for one small file, against 2–4 for both scans.
      meta = await this.db.all(
        `SELECT file_name, list(name) AS names, NULL AS n FROM parquet_schema(${files}) GROUP BY file_name
         UNION ALL SELECT file_name, NULL, num_rows FROM parquet_file_metadata(${files})`,
      );
    } catch (err) {
      throw fail(err, list);
    }
    const byFile = new Map<string, { names: string[]; n: bigint }>();
    for (const m of meta) {
      const file = byFile.get(m.file_name) ?? { names: [], n: 0n };
      if (m.names) file.names = m.names;
      if (m.n !== null) file.n += m.n;
      byFile.set(m.file_name, file);
    }
    const bySchema = new Map<string, string[]>();
    for (const path of list) {
      const key = this.columns.map((c) => (byFile.get(path)?.names.includes(c.name) ? '1' : '0')).join('');
      bySchema.set(key, [...(bySchema.get(key) ?? []), path]);
    }
    for (const [key, group] of bySchema) {
      const present = this.columns.filter((_, i) => key[i] === '1').map((c) => c.name);
      const rows = this.withDerived(`read_parquet([${group.map(literal).join(', ')}], union_by_name = true)`, present);
      try {
        this.filled.add(this.stagingTable);
        await this.db.run(`INSERT INTO ${ident(this.stagingTable)} (${this.columnList}) ${rows}`);
      } catch (err) {
        throw fail(err, group);
      }
      this.sources += group.length;
    }
    return list.map((path) => Number(byFile.get(path)?.n ?? 0));
  }

  /**
   * Like `addParquet`, but the rows stay in the file until the next grouping reads them, and it
   * reads only the columns it needs (the file must stay until then). The file's footer is read
   * now: a file that is not Parquet, or is truncated, fails here. Returns its rows.
   */
  async stageParquet(path: string): Promise<number> {
    await this.init();
    let rows: number;
    try {
      const [m] = await this.db.all<{ n: bigint | null }>('SELECT sum(num_rows) AS n FROM parquet_file_metadata($1)', [path]);
      rows = Number(m?.n ?? 0);
    } catch (err) {
      throw new TallyError(`${path}: Parquet could not be read as ${this.name}: ${errorMessage(err)}`, { cause: err });
    }
    const [schema] = await this.db.all<{ names: string[] }>('SELECT list(name) AS names FROM parquet_schema($1)', [path]);
    this.pendingParquet.push({ path, names: schema?.names ?? [] });
    this.sources += 1;
    return rows;
  }

  /**
   * Grouped rows of the staged Parquet files, as one relation (undefined when none): ONE
   * multi-file scan (DuckDB parallelizes it across files and row groups; 30 scans in a UNION ALL
   * were several times slower), columns matched by name, absent ones NULL.
   */
  protected stagedParquetRelation(): string | undefined {
    if (this.pendingParquet.length === 0) return undefined;
    const files = this.pendingParquet.map((p) => literal(p.path)).join(', ');
    return `(${this.withDerived(`read_parquet([${files}], union_by_name = true)`, this.pendingParquet.flatMap((p) => p.names))})`;
  }

  /** SELECT regrouping `from` (a relation with `columns`) by the index columns. */
  protected regroupSql(from: string): string {
    const folds = this.folds();
    if (this.indexColumns.length === 0) return `SELECT ${this.columnList} FROM ${from}`;
    const exprs = this.columns.map((c) => {
      const col = ident(c.name);
      if (this.indexColumns.includes(c.name)) return col;
      switch (folds[c.name]) {
        case 'sum':
          return `CAST(sum(${col}) AS ${c.type}) AS ${col}`;
        case 'min':
          return `min(${col}) AS ${col}`;
        case 'max':
          return `max(${col}) AS ${col}`;
        case 'union':
          // Empty lists (most rows) keep no aggregate state.
          return `CAST(COALESCE(list_sort(list_distinct(flatten(list(${col}) FILTER (WHERE len(${col}) > 0)))), []) AS ${c.type}) AS ${col}`;
        default:
          throw new Error(`${this.name}: no fold for column ${c.name}`);
      }
    });
    return `SELECT ${exprs.join(', ')} FROM ${from} GROUP BY ${this.indexColumns.map(ident).join(', ')}`;
  }

  /**
   * SELECT of every row grouped so far plus everything added since (staged Parquet rows, raw
   * rows, staged scans), folded; undefined when `table` already holds all of it. Consumes the
   * staged scans.
   */
  private async foldSelect(): Promise<string | undefined> {
    await this.init();
    const scans = this.pendingScans;
    this.pendingScans = [];
    const parquet = this.stagedParquetRelation();
    this.pendingParquet = [];
    const t = ident(this.table);
    const s = ident(this.stagingTable);
    const r = ident(this.rawTable);
    const { grouped, staged, raw } = await this.rowCounts();
    if (staged === 0 && raw === 0 && scans.length === 0 && !parquet) return undefined; // `table` is already grouped
    const rawRel = scans.length === 0 ? r : this.rawAndScans(scans);
    // Only raw rows: one aggregation gives the grouped rows (no second pass).
    if (grouped === 0 && staged === 0 && !parquet) return this.aggregateSelect(rawRel);
    const parts = [`SELECT ${this.columnList} FROM ${t}`];
    if (staged > 0) parts.push(`SELECT ${this.columnList} FROM ${s}`);
    if (parquet) parts.push(`SELECT ${this.columnList} FROM ${parquet}`);
    if (raw > 0 || scans.length > 0) parts.push(`SELECT * FROM (${await this.aggregateSelect(rawRel)})`);
    return this.regroupSql(`(${parts.join(' UNION ALL ')})`);
  }

  /** Rows in `table`, `stagingTable` and `rawTable`: one statement counts those that may hold any. */
  private async rowCounts(): Promise<{ grouped: number; staged: number; raw: number }> {
    const names = { grouped: this.table, staged: this.stagingTable, raw: this.rawTable };
    const probed = Object.entries(names).filter(([, t]) => this.filled.has(t));
    const out = { grouped: 0, staged: 0, raw: 0 };
    if (probed.length === 0) return out;
    const [n] = await this.db.all<Record<string, bigint>>(`SELECT ${probed.map(([k, t]) => `(SELECT count(*) FROM ${ident(t)}) AS ${k}`).join(', ')}`);
    for (const [k] of probed) out[k as keyof typeof out] = Number(n?.[k] ?? 0);
    return out;
  }

  /** Delete every row of `tables` (of this dataframe's three) that may hold any. */
  private async empty(tables: readonly string[]): Promise<void> {
    for (const t of tables) {
      if (!this.filled.has(t)) continue;
      await this.db.run(`DELETE FROM ${ident(t)}`);
      this.filled.delete(t);
    }
  }

  /** Fold everything added so far into `table` (regroup semantics: sums, min/max, set unions). */
  async group(): Promise<void> {
    const select = await this.foldSelect();
    if (select === undefined) return;
    await this.replaceTable(select);
    await this.empty([this.stagingTable, this.rawTable]);
  }

  /**
   * Fold everything added so far into a NEW table `name` holding only `columns` (default all)
   * of the grouped rows matching `where` (SQL over the grouped columns), leaving this dataframe
   * empty (`sources` stays). Cheaper than `group()` when a consumer needs few columns: DuckDB
   * drops the unused parts of the aggregation (e.g. set columns). Replaces `name` if it exists.
   */
  async groupInto(name: string, opts: { columns?: readonly string[]; where?: string } = {}): Promise<void> {
    const select = (await this.foldSelect()) ?? `SELECT ${this.columnList} FROM ${ident(this.table)}`;
    const cols = opts.columns ? opts.columns.map(ident).join(', ') : '*';
    const where = opts.where ? ` WHERE ${opts.where}` : '';
    await this.db.run(`CREATE OR REPLACE TABLE ${ident(name)} AS SELECT ${cols} FROM (${this.typedSelect(select)})${where}`);
    await this.empty([this.table, this.stagingTable, this.rawTable]);
  }

  /**
   * The relation (parenthesized SELECT of `preparedColumns`) of every prepared row added since
   * the last grouping: raw rows and staged scans (read again on every use). Undefined when
   * grouped or Parquet rows are present too, whose raw rows no longer exist. Consumes nothing.
   * For consumers that aggregate prepared rows their own way (a report's usage tables).
   */
  async preparedRelation(): Promise<string | undefined> {
    const pending = await this.pendingRows();
    return pending && !pending.parquet ? pending.prepared : undefined;
  }

  /**
   * `preparedRelation` plus the Parquet files staged by `stageParquet` (grouped rows, relation
   * of `columns`). Undefined when grouped rows, or Parquet rows added by `addParquet`, exist.
   * Consumes nothing.
   */
  async pendingRows(): Promise<{ prepared: string; parquet: string | undefined; hasPrepared: boolean; raw: boolean } | undefined> {
    await this.init();
    const n = await this.rowCounts();
    if (n.grouped > 0 || n.staged > 0) return undefined;
    const raw = n.raw > 0;
    return { prepared: this.rawAndScans(this.pendingScans), parquet: this.stagedParquetRelation(), hasPrepared: raw || this.pendingScans.length > 0, raw };
  }

  /** Prepared rows of the raw table and of `scans`, as one relation. */
  private rawAndScans(scans: readonly string[]): string {
    const prepared = this.preparedColumns.map((c) => ident(c.name)).join(', ');
    return `(${[`SELECT ${prepared} FROM ${ident(this.rawTable)}`, ...scans].join(' UNION ALL ')})`;
  }

  /**
   * `group()` then `toParquet(path)`, without keeping the grouped rows: the aggregation streams
   * into the Parquet writer (millions of groups never become a table). The dataframe is empty
   * afterwards (`sources` stays). Returns the rows written.
   */
  async groupToParquet(path: string, opts: { ordered?: boolean } = {}): Promise<number> {
    const order = (opts.ordered ?? true) ? this.orderBy : '';
    const rows =
      (await this.singleRowsToParquet(path, order)) ??
      (await this.copyToParquet(this.typedSelect((await this.foldSelect()) ?? `SELECT ${this.columnList} FROM ${ident(this.table)}`), order, path));
    await this.empty([this.table, this.stagingTable, this.rawTable]);
    return rows;
  }

  /**
   * `PARQUET_V2` (see sql.ts), in row groups of 32k rows instead of DuckDB's 122,880: the writer
   * buffers a whole row group, and the smaller one cost ~15 % less CPU for the same rows (6 days
   * of job host summaries).
   */
  private copyToParquet(select: string, order: string, path: string): Promise<number> {
    return this.db.run(
      `COPY (SELECT * FROM (${select}) ${order}) TO ${literal(path)} (${PARQUET_V2}, ROW_GROUP_SIZE 32768)`,
    );
  }

  /**
   * `groupToParquet` for prepared rows alone (nothing grouped or from Parquet yet) of a dataframe
   * with `singleRowSql`. A month of job host summaries has ~6M indexes, nearly all seen once:
   * grouping them all fills a hash table far past memory. Instead every row is written reshaped
   * (one read of the CSVs), the written file's fingerprints show which indexes occur more than
   * once, and only when there are such is the file rewritten with just those regrouped.
   * When the rows are all plain (see `plainScans`), the part leaves the derived columns out: for a
   * day of job host summaries, 14 % fewer instructions in its scan-and-write.
   * Undefined when not applicable.
   */
  private async singleRowsToParquet(path: string, order: string): Promise<number | undefined> {
    if (this.indexColumns.length === 0) return undefined;
    const pending = await this.pendingRows();
    const reshaped = pending === undefined || pending.parquet ? undefined : this.singleRowSql(pending.prepared);
    if (reshaped === undefined) return undefined;
    this.pendingScans = [];
    const singles = `${path}.singles`;
    const written = this.plainScans && !pending?.raw ? this.columns.filter((c) => c.derived === undefined) : this.columns;
    try {
      const rows = await this.copyToParquet(`SELECT ${written.map((c) => ident(c.name)).join(', ')} FROM (${this.typedSelect(reshaped)})`, '', singles);
      const file = `read_parquet(${literal(singles)})`;
      const src = `(${this.withDerived(file, written.map((c) => c.name))})`;
      const repeated = `SELECT fp FROM (SELECT ${this.fingerprint} AS fp FROM ${file}) GROUP BY fp HAVING count(*) > 1`;
      // Counted first, and kept in a table only when there are some (rarely): one statement instead of three.
      const [m] = await this.db.all<{ n: bigint }>(`SELECT count(*) AS n FROM (${repeated})`);
      if (Number(m?.n ?? 0) > 0) return await this.regroupRepeated(src, repeated, order, path);
      if (order) return await this.copyToParquet(this.typedSelect(`SELECT * FROM ${src}`), order, path);
      await rename(singles, path);
      return rows;
    } finally {
      await rm(singles, { force: true });
    }
  }

  /** Write the rows of `src` to `path`, those whose fingerprint is among `repeated` (a SELECT of `fp`) regrouped. */
  private async regroupRepeated(src: string, repeated: string, order: string, path: string): Promise<number> {
    const multi = ident(this.multiTable);
    await this.db.run(`CREATE OR REPLACE TEMP TABLE ${multi} AS ${repeated}`);
    try {
      const once = `SELECT * FROM ${src} WHERE ${this.fingerprint} NOT IN (SELECT fp FROM ${multi})`;
      const several = this.regroupSql(`(SELECT * FROM ${src} WHERE ${this.fingerprint} IN (SELECT fp FROM ${multi}))`);
      return await this.copyToParquet(this.typedSelect(`${once} UNION ALL SELECT * FROM (${several})`), order, path);
    } finally {
      await this.db.run(`DROP TABLE IF EXISTS ${multi}`);
    }
  }

  /**
   * Regroup `table` in place (after folding anything still staged), optionally renaming hosts first (`hostNameMapping`, the
   * reference's dedup; unmapped hosts keep their name): rows that now share an index merge.
   */
  async regroup(opts: { hostNameMapping?: ReadonlyMap<string, string> } = {}): Promise<void> {
    await this.init();
    await this.group();
    const t = ident(this.table);
    const mapping = opts.hostNameMapping;
    if (!mapping || mapping.size === 0 || !this.columns.some((c) => c.name === 'host_name')) {
      await this.replaceTable(this.regroupSql(t));
      return;
    }
    const map = ident(await writeHostNameMap(this.db, `${this.table}_hostmap`, mapping));
    const mapped = this.columns
      .map((c) => (c.name === 'host_name' ? `COALESCE(m.to_name, d.host_name) AS host_name` : `d.${ident(c.name)}`))
      .join(', ');
    const src = `(SELECT ${mapped} FROM ${t} d LEFT JOIN ${map} m ON m.from_name = d.host_name)`;
    // Only the rows whose renamed index another row shares are folded: aggregating a month of
    // grouped rows with their lists outgrows memory, and a row alone is its own group already.
    const fp = this.fingerprint;
    const multi = ident(this.multiTable);
    await this.db.run(`CREATE OR REPLACE TEMP TABLE ${multi} AS SELECT fp FROM (SELECT ${fp} AS fp FROM ${src}) GROUP BY fp HAVING count(*) > 1`);
    const once = `SELECT * FROM ${src} WHERE ${fp} NOT IN (SELECT fp FROM ${multi})`;
    const several = this.regroupSql(`(SELECT * FROM ${src} WHERE ${fp} IN (SELECT fp FROM ${multi}))`);
    await this.replaceTable(`${once} UNION ALL SELECT * FROM (${several})`);
    await this.db.run(`DROP TABLE ${map}`);
    await this.db.run(`DROP TABLE ${multi}`);
  }

  /** Replace `table` by `select`, which yields exactly `columns` in order (names may be expressions). */
  private async replaceTable(select: string): Promise<void> {
    this.filled.add(this.table);
    await this.db.run(`CREATE OR REPLACE TABLE ${ident(this.table)} AS ${this.typedSelect(select)}`);
  }

  /** `select` (exactly `columns` in order, names may be expressions) with the column names and types. */
  private typedSelect(select: string): string {
    const typed = this.columns.map((c, i) => `CAST(#${i + 1} AS ${c.type}) AS ${ident(c.name)}`).join(', ');
    return `SELECT ${typed} FROM (${select})`;
  }

  /** `ORDER BY` of the index columns (code-point order, NULLs last), or nothing. */
  protected get orderBy(): string {
    const keys = this.indexColumns.length > 0 ? this.indexColumns : this.columns.map((c) => c.name);
    return `ORDER BY ${keys.map((k) => `${ident(k)} NULLS LAST`).join(', ')}`;
  }

  /** Rows in `table`. */
  async count(): Promise<number> {
    await this.init();
    const [row] = await this.db.all<{ n: bigint }>(`SELECT count(*) AS n FROM ${ident(this.table)}`);
    return Number(row?.n ?? 0);
  }

  /** Rows of `table` as JS objects in index order (BIGINT → number, TIMESTAMP → Date, lists as arrays). */
  async rows(): Promise<Record<string, unknown>[]> {
    await this.init();
    const rows = await this.db.all(`SELECT ${this.columnList} FROM ${ident(this.table)} ${this.orderBy}`);
    return rows.map((r) => {
      for (const [k, v] of Object.entries(r)) if (typeof v === 'bigint') r[k] = Number(v);
      return r;
    });
  }

  /** SELECT of `table` with sets as JSON arrays and facts as JSON objects (text output). */
  private textSelect(): string {
    const exprs = this.columns.map((c) => {
      const col = ident(c.name);
      if (c.type === PAIRS_TYPE) return `${pairsToJson(col)} AS ${col}`;
      if (c.type.endsWith('[]')) return `CAST(to_json(${col}) AS VARCHAR) AS ${col}`;
      if (c.type === 'TIMESTAMP') return `CAST(${col} AS VARCHAR) AS ${col}`;
      return col;
    });
    return `SELECT ${exprs.join(', ')} FROM ${ident(this.table)} ${this.orderBy}`;
  }

  /** Write `table` as CSV (header always; sets as JSON arrays) to `path`, or return the text. */
  async toCsv(path?: string): Promise<string | undefined> {
    await this.init();
    const copy = async (target: string) =>
      this.db.run(`COPY (${this.textSelect()}) TO ${literal(target)} (FORMAT csv, HEADER true, DELIMITER ',')`);
    if (path) {
      await copy(path);
      return undefined;
    }
    const dir = await mkdtemp(join(tmpdir(), 'tally-csv-'));
    try {
      await copy(join(dir, 'out.csv'));
      return await readFile(join(dir, 'out.csv'), 'utf8');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Write `table` as Parquet (zstd) to `path`, in index order unless `ordered: false` (sorting
   * millions of rows costs more than the write; readers that regroup do not need it); sets stay
   * native lists.
   */
  async toParquet(path: string, opts: { ordered?: boolean } = {}): Promise<void> {
    await this.init();
    const order = (opts.ordered ?? true) ? this.orderBy : '';
    await this.db.run(
      `COPY (SELECT ${this.columnList} FROM ${ident(this.table)} ${order}) TO ${literal(path)} (FORMAT parquet, COMPRESSION zstd)`,
    );
  }

  /** `table` as JSON-ready rows (timestamps `YYYY-MM-DD HH:MM:SS[.ffffff]` naive UTC, sets arrays, facts `{key: [values]}`). */
  async toJson(): Promise<Record<string, unknown>[]> {
    await this.init();
    const rows = await this.db.all(this.textSelect());
    return rows.map((r) => {
      const out: Record<string, unknown> = {};
      for (const c of this.columns) {
        const v = r[c.name];
        if (v === null || v === undefined) out[c.name] = null;
        else if (c.type === PAIRS_TYPE || c.type.endsWith('[]')) out[c.name] = JSON.parse(String(v));
        else if (typeof v === 'bigint') out[c.name] = Number(v);
        else out[c.name] = v;
      }
      return out;
    });
  }

  /** `table` as an Arrow table with explicit column types (index order). */
  async toArrow(): Promise<Table> {
    await this.init();
    const rows = await this.db.all(`SELECT ${this.columnList} FROM ${ident(this.table)} ${this.orderBy}`);
    // apache-arrow loads on first use (~150 ms of start-up every other command would pay).
    const { toArrowTable } = await import('./arrow.js');
    return toArrowTable(this.columns, rows);
  }

  /** Remove every row (grouped, staged and raw); the tables stay. */
  async clear(): Promise<void> {
    await this.init();
    await this.empty([this.table, this.stagingTable, this.rawTable]);
    this.sources = 0;
    this.pendingScans = [];
    this.pendingParquet = [];
  }

  /** Drop this dataframe's tables. */
  async drop(): Promise<void> {
    await this.db.run(`DROP TABLE IF EXISTS ${ident(this.table)}`);
    await this.db.run(`DROP TABLE IF EXISTS ${ident(this.stagingTable)}`);
    await this.db.run(`DROP TABLE IF EXISTS ${ident(this.rawTable)}`);
    await this.db.run(`DROP TABLE IF EXISTS ${ident(this.multiTable)}`);
    this.filled.clear();
    this.ready = false;
  }
}

/** A DuckDB list literal of file paths. */
function fileList(paths: readonly string[]): string {
  return `[${paths.map(literal).join(', ')}]`;
}
