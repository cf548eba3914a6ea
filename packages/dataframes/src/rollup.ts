import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { addDays, addMonths, isoDate, type Logger, silentLogger, tempdir, thisDay, thisMonth, thisWeek } from '@tally/core';
import { type ExtractFailure, holdExtractionWorker, listTarballs } from '@tally/extractors';
import type { Store } from '@tally/storage';
import { contentRollupName, writeContentRollup } from './content-rollup.js';
import { DataCollectionStatus } from './data-collection-status.js';
import type { Dataframe } from './dataframe.js';
import { type DuckDbOptions, literal, openDuckDb, type TallyDuckDb } from './duckdb.js';
import { JobHostSummary } from './job-host-summary.js';
import { type HashedObject, hashFile, hashObject, listObject, type ReadProgress } from './inputs.js';
import { type LoadResult, loadExtracted, withExtracted } from './load.js';
import { MainHost } from './main-host.js';
import { MainJobevent } from './main-jobevent.js';
import { type MonthToDate, writeMonthsToDate } from './month-to-date.js';
import { usageRollupName, writeUsageRollup } from './usage-rollup.js';

export type RollupPeriod = 'day' | 'week' | 'month';
/**
 * Dataframes that are rolled up: the usage (job host summaries, events), the Inventory Scope's
 * main_host, and the data_collection_status rows the gap warnings and the Data collection status
 * sheet read (concatenated: a rollup holds the period's rows as they are).
 */
export type RollupKind = 'job_host_summary' | 'main_jobevent' | 'main_host' | 'data_collection_status';
export const ROLLUP_KINDS: readonly RollupKind[] = ['job_host_summary', 'main_jobevent', 'main_host', 'data_collection_status'];

export interface RollupOptions {
  storage: Store;
  since: Date;
  until: Date;
  period: RollupPeriod;
  /** Default: every kind. */
  kinds?: readonly RollupKind[];
  /** Key prefix, default `rollups`. */
  prefix?: string;
  logger?: Logger;
  /** Per-tarball uncompressed cap (default 1 GiB). */
  maxTotalBytes?: number;
  /** DuckDB settings (in memory, spilling, by default). */
  duckdb?: DuckDbOptions;
  /** Passed to JobHostSummary (default true). */
  reachableOnly?: boolean;
  /** Also store each period's usage tables (see usage-rollup.ts; default true): what makes a report from rollups cheap. */
  usage?: boolean;
  /** Told as each period is read and written. */
  onProgress?: ((p: ReadProgress) => void) | undefined;
}

export interface RollupPart {
  kind: RollupKind;
  period: RollupPeriod;
  /** Period label: `YYYY-MM-DD` (day, week = its Monday) or `YYYY-MM` (month). */
  date: string;
  /** Storage name written. */
  name: string;
  rows: number;
}

/**
 * The version of what each counting rule computes from job host summary rows. 2: an empty
 * counter makes the row's counter sum empty as in metrics-utility (under the reachable rule the
 * row is dropped, else its task runs count 0; before, it read as 0), and the reachable rule keeps
 * rows whose sum is above 0 (before, any sum but 0, so negative sums too).
 */
export const COUNTING_RULE_VERSION = 2;

/**
 * What a rollup of one period was built from, stored beside its parts: it is current while the
 * period's tarballs still list with these names and sizes and it was built under the same rule.
 */
export interface RollupManifest {
  /**
   * 2 since facts keep their JSON types (`4` apart from `"4"`): a rollup of format 1 is not current.
   * 3 since a part may leave derived columns out (see `Column.derived`), which a reader of format 2
   * would take for NULL: format 3 is written, and both are read.
   */
  format: 2 | 3;
  period: RollupPeriod;
  date: string;
  /** TALLY_COUNT_UNREACHABLE_HOSTS when it was built: rollups of different rules never mix. */
  countUnreachableHosts: boolean;
  /**
   * What that rule computes, `COUNTING_RULE_VERSION` when it was built; absent before version 2.
   * A rollup of another version counts some rows differently and is not current.
   */
  countingRuleVersion?: number;
  /** Every kind rolled up: its part, or null when the period had no CSV of that kind. */
  parts: Partial<Record<RollupKind, RollupManifestPart | null>>;
  /** Every tarball of the period (the skipped ones with their reason). */
  inputs: RollupInput[];
  /**
   * The period's usage tables (see usage-rollup.ts), when it had job host summaries; with the
   * count of its INDIRECT rows (a period with some is read at the job grain); and its content
   * rollup (see content-rollup.ts) when it had job events whose figures merge.
   */
  usage?: { hosts: RollupManifestPart; jobs: RollupManifestPart; indirectRows: number; content?: RollupManifestPart | undefined } | undefined;
  /** A day's: the merge of its month's usage tables up to it (see month-to-date.ts). */
  monthToDate?: MonthToDate | undefined;
}

/** A tarball a rollup was built from: as listed and hashed, with the CSV records it contributed (or why it contributed none). */
export interface RollupInput extends HashedObject {
  /** Data records it contributed, per CSV member read (absent when skipped). */
  csvRows?: Record<string, number>;
  skipped?: string;
}

/**
 * Every listed tarball of a period as its rollup's manifest records it: hashed as it was
 * extracted (one read), or read again only when extraction never got that far.
 */
async function describeInputs(storage: Store, listed: readonly string[], loaded: LoadResult): Promise<RollupInput[]> {
  const skipped = new Map(loaded.failures.map((f) => [f.file, f.error]));
  const out: RollupInput[] = [];
  for (const name of listed) {
    const reason = skipped.get(name);
    const digest = loaded.digests?.get(name);
    const hashed = digest ? { ...(await listObject(storage, name)), size: digest.size, sha256: digest.sha256 } : await hashObject(storage, name);
    out.push({ ...hashed, ...(digest && reason === undefined ? { csvRows: Object.fromEntries(digest.records) } : {}), ...(reason === undefined ? {} : { skipped: reason }) });
  }
  return out;
}

/**
 * A part as written: its size and SHA-256 let a reader tell a corrupt or truncated file (which
 * may still have a valid footer) from the one the manifest describes, before trusting a row.
 */
export interface RollupManifestPart {
  name: string;
  rows: number;
  size?: number;
  sha256?: string;
}

/** `rollups/_inputs/period={period}/date={date}.json` (outside the kinds' Hive trees). */
export function manifestName(period: RollupPeriod, date: string, prefix = 'rollups'): string {
  return `${prefix}/_inputs/period=${period}/date=${date}.json`;
}

/** The manifest of a period's rollup, or undefined when there is none (or it cannot be read as one). */
export async function readManifest(storage: Store, period: RollupPeriod, date: string, prefix = 'rollups'): Promise<RollupManifest | undefined> {
  const name = manifestName(period, date, prefix);
  if (!(await storage.exists(name))) return undefined;
  const local = await storage.get(name);
  try {
    const m = JSON.parse(await readFile(local.path, 'utf8')) as RollupManifest;
    return (m?.format === 2 || m?.format === 3) && Array.isArray(m.inputs) && typeof m.parts === 'object' ? m : undefined;
  } catch {
    return undefined;
  } finally {
    await local.release();
  }
}

export interface RollupResult {
  parts: RollupPart[];
  /** Storage names of tarballs read. */
  tarballs: string[];
  failures: ExtractFailure[];
}

/** A period window: `[since, until)` aligned to UTC day / Monday / first of month. */
export interface PeriodWindow {
  period: RollupPeriod;
  date: string;
  since: Date;
  until: Date;
}

function periodStart(at: Date, period: RollupPeriod): Date {
  return period === 'day' ? thisDay(at) : period === 'week' ? thisWeek(at) : thisMonth(at);
}

function nextPeriod(start: Date, period: RollupPeriod): Date {
  return period === 'day' ? addDays(start, 1) : period === 'week' ? addDays(start, 7) : addMonths(start, 1);
}

function periodLabel(start: Date, period: RollupPeriod): string {
  return period === 'month' ? isoDate(start).slice(0, 7) : isoDate(start);
}

/** Every period that intersects `[since, until)`, each aligned to full periods. */
export function periodWindows(since: Date, until: Date, period: RollupPeriod): PeriodWindow[] {
  const out: PeriodWindow[] = [];
  for (let s = periodStart(since, period); s.getTime() < until.getTime(); s = nextPeriod(s, period)) {
    out.push({ period, date: periodLabel(s, period), since: s, until: nextPeriod(s, period) });
  }
  return out;
}

/** `rollups/{kind}/period={period}/date={date}/part-0.parquet` */
export function rollupName(kind: RollupKind, period: RollupPeriod, date: string, prefix = 'rollups'): string {
  return `${prefix}/${kind}/period=${period}/date=${date}/part-0.parquet`;
}

/**
 * A fresh dataframe of a rollup kind. `scan`: data_collection_status leaves its CSVs as scans for
 * the next grouping, which must then run while the extracted files exist (as a rollup's does).
 */
export function createDataframe(kind: RollupKind, db: TallyDuckDb, opts: { reachableOnly?: boolean; scan?: boolean } = {}): Dataframe {
  switch (kind) {
    case 'job_host_summary':
      return new JobHostSummary(db, opts);
    case 'main_jobevent':
      return new MainJobevent(db);
    case 'main_host':
      return new MainHost(db);
    case 'data_collection_status':
      return new DataCollectionStatus(db, { scan: opts.scan ?? false });
  }
}

/**
 * A month of 6M job host summary rows groups into ~6M rows. With DuckDB's default 384MB that
 * aggregation spilled heavily in about a third of the runs (25–29 s instead of 15–18 s, 8–13 s
 * of system time), and those runs peaked at ~0.78 GiB anyway; with 512MB none of eight runs
 * spilled that way, peaking at 0.72–0.82 GiB for the whole process (2-core machine).
 */
export const ROLLUP_MEMORY_LIMIT = '512MB';

/**
 * Roll the daily tarballs of every period intersecting `[since, until)` up into Parquet, one
 * Hive partition per (kind, period, date); periods are always whole (a `month` rollup reads
 * every day folder of the month). A part is written only when the period had that kind's CSV
 * in at least one good tarball; an existing part is replaced atomically by the storage.
 *
 * Several periods are rolled two at a time (see `lanePlan`); their progress, log lines and
 * results still come in period order, as if rolled one after the other.
 */
export async function rollup(opts: RollupOptions): Promise<RollupResult> {
  const windows = periodWindows(opts.since, opts.until, opts.period);
  const plan = lanePlan(opts.duckdb, windows.length);
  const run: RollupRun = { opts, windows, result: { parts: [], tarballs: [], failures: [] }, rows: 0, order: new InOrder(), tmp: '', stored: new Map() };
  await using tmp = await tempdir('tally-rollup');
  run.tmp = tmp.path;
  let next = 0;
  const errors: { n: number; err: unknown }[] = [];
  const monthToDate = opts.period === 'day' && opts.usage !== false;
  let running = plan.lanes;
  const rolling = new Set<TallyDuckDb>();
  const whole = new WholeRun(opts.duckdb);
  let kept: TallyDuckDb | undefined;
  const lane = async () => {
    // In memory: the grouped rows stream from the CSV scans into Parquet, so no big table is
    // kept; a database file would only add WAL and checkpoint work.
    const db = await openDuckDb(plan.duckdb);
    rolling.add(db);
    try {
      const dfs = (opts.kinds ?? ROLLUP_KINDS).map((k) => createDataframe(k, db, { reachableOnly: opts.reachableOnly, scan: true }));
      while (errors.length === 0 && next < windows.length) {
        const n = next++;
        try {
          await rollWindow(run, dfs, n);
        } catch (err) {
          errors.push({ n, err });
        } finally {
          run.order.done(n);
        }
      }
      rolling.delete(db);
      // The lane still rolling its last period gets this one's threads and memory for the rest of
      // it: a day's statements run 1.3–1.6× faster on two threads than on one.
      if (--running === 1) for (const other of rolling) whole.give(other, opts.logger);
      // The last lane to finish keeps its database, emptied, for the month-to-date merge: closing
      // it and opening another (the merge's allocations then faulted in afresh) was serial time.
      if (running === 0 && monthToDate && errors.length === 0) {
        for (const df of dfs) await df.clear();
        kept = db;
      }
    } finally {
      rolling.delete(db);
      if (kept !== db) await db.close();
    }
  };
  try {
    // Every period extracts its tarballs between DuckDB statements: the extraction workers stay up for them all.
    let lanes: PromiseSettledResult<void>[];
    {
      using _worker = holdExtractionWorker();
      lanes = await Promise.allSettled(Array.from({ length: plan.lanes }, lane));
    }
    // The earliest period's failure, as a run one period after the other would have thrown it.
    const first = errors.sort((a, b) => a.n - b.n)[0];
    if (first) throw first.err;
    for (const l of lanes) if (l.status === 'rejected') throw l.reason;
    const dates = run.result.parts.filter((p) => p.kind === 'job_host_summary').map((p) => p.date);
    if (monthToDate && dates.length > 0) {
      // The merge runs alone: the last lane's database with the run's whole threads and memory, else a new one.
      kept ??= await openDuckDb(whole.settings);
      await whole.give(kept);
      await writeMonthsToDate(kept, dates, { storage: opts.storage, prefix: opts.prefix, dir: tmp.path, logger: opts.logger ?? silentLogger, stored: run.stored });
    }
  } finally {
    await kept?.close();
  }
  return run.result;
}

/**
 * The run's whole DuckDB threads and memory, which lanes share (see `lanePlan`), and the
 * databases given them since: a lane's database once it works alone.
 */
class WholeRun {
  readonly settings: DuckDbOptions & { threads: number; memoryLimit: string };
  private readonly given = new Map<TallyDuckDb, Promise<void>>();

  constructor(duckdb: DuckDbOptions | undefined) {
    this.settings = { ...duckdb, threads: duckdb?.threads ?? 2, memoryLimit: duckdb?.memoryLimit ?? ROLLUP_MEMORY_LIMIT };
  }

  /**
   * Give `db` the whole run's settings, once: `SET` statements queued behind the ones its lane has
   * issued, so they apply from its next statement on. A failure is the caller's to see when it
   * awaits (a lane's own statements report theirs).
   */
  give(db: TallyDuckDb, logger?: Logger): Promise<void> {
    let given = this.given.get(db);
    if (!given) {
      logger?.debug('rollup lane given the run\'s DuckDB threads and memory', { threads: this.settings.threads, memoryLimit: this.settings.memoryLimit });
      given = (async () => {
        await db.run(`SET threads = ${Number(this.settings.threads)}`);
        await db.run(`SET memory_limit = ${literal(this.settings.memoryLimit)}`);
      })();
      given.catch(() => {});
      this.given.set(db, given);
    }
    return given;
  }
}

/**
 * Periods rolled at once, and each one's DuckDB settings. A period's DuckDB statements use
 * parallel scans and merges that cost CPU (one thread instead of two: 12 % less for a month by
 * day), and its extraction leaves DuckDB idle: two periods at once, each on one thread, keep
 * both cores busy for less CPU. The memory limit is shared between them.
 */
function lanePlan(duckdb: DuckDbOptions | undefined, periods: number): { lanes: number; duckdb: DuckDbOptions } {
  const { threads, memoryLimit } = new WholeRun(duckdb).settings;
  const lanes = periods > 1 && threads >= 2 ? 2 : 1;
  if (lanes === 1) return { lanes, duckdb: { ...duckdb, memoryLimit } };
  return { lanes, duckdb: { ...duckdb, threads: Math.floor(threads / lanes), memoryLimit: shareOf(memoryLimit, lanes) } };
}

/** `limit` (a DuckDB size such as `512MB` or `1.5GiB`) divided by `n`, in the same unit. */
function shareOf(limit: string, n: number): string {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(limit);
  return m ? `${Number(m[1]) / n}${m[2]}` : limit;
}

/** What the periods of one `rollup` call share. */
interface RollupRun {
  opts: RollupOptions;
  windows: PeriodWindow[];
  result: RollupResult;
  /** Rows written so far (for progress). */
  rows: number;
  order: InOrder;
  tmp: string;
  /** The parts stored so far, by storage name, with their local files in `tmp`. */
  stored: Map<string, StoredPart>;
}

/**
 * Effects of periods rolled concurrently (progress, log lines, additions to the result), run in
 * period order: a period's run at once while every earlier period is done, or else wait for that.
 */
class InOrder {
  private head = 0;
  private readonly queued = new Map<number, (() => void)[]>();
  private readonly finished = new Set<number>();

  say(n: number, effect: () => void): void {
    if (n === this.head) effect();
    else this.queued.set(n, [...(this.queued.get(n) ?? []), effect]);
  }

  done(n: number): void {
    this.finished.add(n);
    while (this.finished.delete(this.head)) {
      this.head += 1;
      for (const effect of this.queued.get(this.head) ?? []) effect();
      this.queued.delete(this.head);
    }
  }
}

/** `log` whose lines are written in period `n`'s turn (see `InOrder`). */
function loggerInOrder(log: Logger, say: (effect: () => void) => void): Logger {
  return {
    debug: (m, f) => say(() => log.debug(m, f)),
    info: (m, f) => say(() => log.info(m, f)),
    warn: (m, f) => say(() => log.warn(m, f)),
    error: (m, f) => say(() => log.error(m, f)),
    child: (fields) => loggerInOrder(log.child(fields), say),
  };
}

/** Roll period `n` up with `dfs` (one per kind, in one database of their own). */
async function rollWindow(run: RollupRun, dfs: readonly Dataframe[], n: number): Promise<void> {
  const { opts, result } = run;
  const w = run.windows[n]!;
  const kinds = opts.kinds ?? ROLLUP_KINDS;
  const say = (effect: () => void) => run.order.say(n, effect);
  const log = loggerInOrder(opts.logger ?? silentLogger, say);
  const tell = (phase: ReadProgress['phase'], done: number, tarballs: () => number) =>
    say(() => opts.onProgress?.({ phase, date: w.date, days: { done, total: run.windows.length }, tarballs: tarballs(), rows: run.rows }));
  const listed = await listTarballs(opts.storage, w.since, w.until);
  if (listed.length === 0) return;
  tell('extract', n, () => result.tarballs.length + listed.length);
  for (const df of dfs) await df.clear();
  // Each kind's grouped rows stream from the CSV scans straight into Parquet (no grouped table).
  const files = new Map<Dataframe, { file: string; rows: number }>();
  const loadOpts = { storage: opts.storage, since: w.since, until: w.until, logger: log, maxTotalBytes: opts.maxTotalBytes };
  const loaded = await withExtracted(dfs, loadOpts, (extracted, res) =>
    loadExtracted(dfs, extracted, res, log, {
      stage: true,
      finish: async () => {
        tell('aggregate', n, () => result.tarballs.length + extracted.length);
        files.clear();
        for (const [i, df] of dfs.entries()) {
          if (df.sources === 0) continue;
          const file = join(run.tmp, `${kinds[i]!}-${w.date}.parquet`);
          files.set(df, { file, rows: await df.groupToParquet(file, { ordered: false }) });
        }
      },
    }),
  );
  say(() => {
    result.tarballs.push(...loaded.tarballs);
    result.failures.push(...loaded.failures);
  });
  const manifest: RollupManifest = { format: 3, period: opts.period, date: w.date, countUnreachableHosts: !(opts.reachableOnly ?? true), countingRuleVersion: COUNTING_RULE_VERSION, parts: {}, inputs: [] };
  for (const [i, df] of dfs.entries()) {
    const kind = kinds[i]!;
    const written = files.get(df);
    manifest.parts[kind] = null;
    if (!written) continue;
    const name = rollupName(kind, opts.period, w.date, opts.prefix);
    manifest.parts[kind] = await storePart(opts.storage, name, written.file, written.rows, run.stored);
    say(() => {
      result.parts.push({ kind, period: opts.period, date: w.date, name, rows: written.rows });
      run.rows += written.rows;
    });
    log.info('rollup written', { name, rows: written.rows });
    if (kind === 'job_host_summary' && opts.usage !== false) {
      const started = performance.now();
      const events = [...files].find(([d]) => d.name === 'main_jobevent')?.[1].file;
      manifest.usage = await storeUsageRollup(df.db, { jhs: written.file, events }, { storage: opts.storage, period: opts.period, date: w.date, prefix: opts.prefix, dir: run.tmp, stored: run.stored });
      log.debug('usage rollup written', { date: w.date, hosts: manifest.usage?.hosts.rows, ms: Math.round(performance.now() - started) });
    }
  }
  manifest.inputs = await describeInputs(opts.storage, listed, loaded);
  // Written last: a manifest never names a part that is not stored yet.
  await opts.storage.put(manifestName(opts.period, w.date, opts.prefix), { dict: manifest });
  tell('write', n + 1, () => result.tarballs.length);
}

/**
 * Write and store the usage rollup of a period's job host summary part (see usage-rollup.ts),
 * and with its main_jobevent part (`parts.events`) its content rollup (see content-rollup.ts).
 */
async function storeUsageRollup(
  db: TallyDuckDb,
  parts: { jhs: string; events: string | undefined },
  at: { storage: Store; period: RollupPeriod; date: string; prefix: string | undefined; dir: string; stored: Map<string, StoredPart> },
): Promise<RollupManifest['usage']> {
  const local = {
    hosts: join(at.dir, `usage-hosts-${at.date}.parquet`),
    jobs: join(at.dir, `usage-jobs-${at.date}.parquet`),
    content: join(at.dir, `usage-content-${at.date}.parquet`),
  };
  const written = await writeUsageRollup(db, parts.jhs, local, parts.events);
  const content = parts.events ? await writeContentRollup(db, { jhs: parts.jhs, events: parts.events }, local.content) : undefined;
  const store = (name: string, file: string, rows: number) => storePart(at.storage, name, file, rows, at.stored);
  const part = (which: 'hosts' | 'jobs') => store(usageRollupName(which, at.period, at.date, at.prefix), local[which], written[which]);
  return {
    hosts: await part('hosts'),
    jobs: await part('jobs'),
    indirectRows: written.indirectRows,
    ...(content === undefined ? {} : { content: await store(contentRollupName(at.period, at.date, at.prefix), local.content, content) }),
  };
}

/** A part stored by this run, with the local file it was stored from (still there). */
export interface StoredPart extends RollupManifestPart {
  path: string;
}

/**
 * Store the local file `file` as the rollup part `name`, with the size and SHA-256 a manifest
 * records of it (and in `stored`, when given, with `file`).
 */
export async function storePart(storage: Store, name: string, file: string, rows: number, stored?: Map<string, StoredPart>): Promise<RollupManifestPart> {
  const checked = { size: (await stat(file)).size, sha256: await hashFile(file) };
  await storage.put(name, { filename: file });
  stored?.set(name, { name, rows, ...checked, path: file });
  return { name, rows, ...checked };
}

/**
 * Add the rollup Parquet files of `df.name` for `period` whose period starts in `[since, until)`
 * to `df` (call `df.group()` afterwards). Returns the storage names read, sorted.
 */
export async function addRollups(
  df: Dataframe,
  opts: { storage: Store; period: RollupPeriod; since: Date; until: Date; prefix?: string },
): Promise<string[]> {
  const prefix = opts.prefix ?? 'rollups';
  const names = await opts.storage.glob(`${prefix}/${df.name}/period=${opts.period}/date=*/*.parquet`);
  const wanted = new Set(periodWindows(opts.since, opts.until, opts.period).map((w) => w.date));
  const read: string[] = [];
  for (const name of names.sort()) {
    const date = /\/date=([^/]+)\//.exec(name)?.[1];
    if (!date || !wanted.has(date)) continue;
    const start = new Date(`${date.length === 7 ? `${date}-01` : date}T00:00:00Z`);
    if (start.getTime() < opts.since.getTime() || start.getTime() >= opts.until.getTime()) continue;
    const local = await opts.storage.get(name);
    try {
      await df.addParquet(local.path);
    } finally {
      await local.release();
    }
    read.push(name);
  }
  return read;
}
