import { errorMessage, type Logger, silentLogger } from '@tally/core';
import { type ExtractFailure, listTarballs } from '@tally/extractors';
import type { LocalFile, Store } from '@tally/storage';
import type { Dataframe } from './dataframe.js';
import type { TallyDuckDb } from './duckdb.js';
import { type ListedObject, listObject, sameListing } from './inputs.js';
import { JobHostSummary } from './job-host-summary.js';
import { MainJobevent } from './main-jobevent.js';
import { type PeriodWindow, periodWindows, type RollupKind, type RollupManifest, readManifest, rollup } from './rollup.js';
import { type LoadedAdjustments, loadUsage, type LoadUsageOptions, type UsageTables, usageTables } from './usage.js';

/** The kinds a report reads: a rollup is usable only when it rolled both up. */
const REPORT_KINDS: readonly RollupKind[] = ['job_host_summary', 'main_jobevent'];

export interface PeriodUsageOptions {
  storage: Store;
  db: TallyDuckDb;
  /** `[since, until)`, whole UTC days. */
  since: Date;
  until: Date;
  /** TALLY_COUNT_UNREACHABLE_HOSTS (default false: rows with only `dark` are dropped). */
  countUnreachableHosts?: boolean;
  /** `raw` reads every tarball; `auto` (default) reads each day's current rollup and only the rest raw. */
  from?: 'auto' | 'raw';
  /** Roll the days without a current rollup up (stored, with their manifest) and read those. */
  writeRollups?: boolean;
  organizationFilter?: readonly string[] | undefined;
  logger?: Logger;
  /** Key prefix of the rollups (default `rollups`). */
  prefix?: string;
  /** Called when DuckDB starts aggregating (the main thread is free then). */
  onExtracted?: () => void;
  /**
   * More dataframes on `db` (main_host, data_collection_status): a day read from its rollup adds
   * its part of each (so a rollup is current only when it rolled every one of them up), a day read
   * raw its tarballs' rows.
   */
  extraDataframes?: readonly Dataframe[] | undefined;
  /** Which of job host summaries and events to read from the tarballs (default both; see `LoadUsageOptions.read`). */
  read?: LoadUsageOptions['read'];
  /** Called with the job host summaries and events once everything is loaded, before the usage tables consume them. */
  onLoaded?: ((jhs: JobHostSummary, events: MainJobevent) => Promise<LoadedAdjustments | undefined>) | undefined;
  /** See `UsageOptions.keepEvents`. */
  keepEvents?: (() => boolean) | undefined;
}

/** One input of a report: a tarball read raw, or a rollup part. */
export interface UsageInput extends ListedObject {
  kind: 'tarball' | 'rollup';
  /** Rows it contributed (rollup parts: the grouped rows read). */
  rows?: number | undefined;
}

/** An input that contributed nothing: its storage name, why, and for a CSV that did not read as its schema the member and line. */
export interface SkippedInput {
  name: string;
  reason: string;
  member?: string;
  line?: number;
}

export interface PeriodUsage {
  usage: UsageTables;
  /** Tarballs read raw and rollup parts read (with the tarballs each rollup was built from). */
  inputs: UsageInput[];
  /** Inputs that contributed nothing, with the reason (a tarball that cannot be read, a corrupt rollup). */
  /** Inputs that contributed nothing, with why (for a CSV that did not read as its schema, the member and line). */
  skipped: SkippedInput[];
  /** Days read from rollups, and days read raw (`YYYY-MM-DD`). */
  days: { rollup: string[]; raw: string[] };
  /** The extracted files are being removed in the background; await before exiting. Never rejects. */
  removed: Promise<void>;
}

/** A storage that lists only `names` among the tarballs (the days read raw). */
function onlyTarballs(storage: Store, names: ReadonlySet<string>): Store {
  return {
    backend: storage.backend,
    put: (n, s) => storage.put(n, s),
    get: (n) => storage.get(n),
    exists: (n) => storage.exists(n),
    remove: (n) => storage.remove(n),
    glob: async (p, o) => (await storage.glob(p, o)).filter((n) => names.has(n)),
    describe: () => storage.describe(),
  };
}

interface DayPlan {
  window: PeriodWindow;
  tarballs: ListedObject[];
  manifest?: RollupManifest | undefined;
}

/** The kinds a day's rollup must hold for this read: both report kinds and every extra dataframe's. */
function requiredKinds(extras: readonly Dataframe[] | undefined): string[] {
  return [...REPORT_KINDS, ...(extras ?? []).map((d) => d.name)];
}

/** Is `m` a rollup of exactly these tarballs, under this rule, with every kind in `kinds`? */
function isCurrent(m: RollupManifest | undefined, tarballs: readonly ListedObject[], countUnreachable: boolean, kinds: readonly string[]): m is RollupManifest {
  if (!m || m.countUnreachableHosts !== countUnreachable) return false;
  const parts: Partial<Record<string, unknown>> = m.parts;
  if (!kinds.every((k) => parts[k] !== undefined)) return false;
  return sameListing(m.inputs, tarballs);
}

/**
 * Did the rollup refuse a tarball? Its day is then read raw: which tarballs a read refuses depends
 * on the members it reads (a rollup reads every kind's, a report only its sheets'), and the
 * report names what it refused.
 */
const refusedAny = (m: RollupManifest) => m.inputs.some((i) => i.skipped !== undefined);

/**
 * Add a day's rollup parts to the dataframes, all or none: the extra dataframes' (in a
 * transaction), the job host summaries staged in their file (`stageParquet` reads the footer: a
 * file that is not Parquet fails there), and the events staged in theirs once everything else
 * is in (their footer is checked in turn: staging them cannot fail then), to be read once by the
 * content aggregation. Returns the parts read and their local copies (kept until the usage tables
 * are built), or the failure naming the part that could not be read.
 */
async function addRollupDay(
  storage: Store,
  m: RollupManifest,
  frames: { jhs: JobHostSummary; events: MainJobevent; extras?: readonly Dataframe[] | undefined; read?: PeriodUsageOptions['read'] },
): Promise<{ read: UsageInput[]; files: LocalFile[] } | { failure: { name: string; reason: string } }> {
  const read: UsageInput[] = [];
  const files: LocalFile[] = [];
  let events: { listed: ListedObject; path: string; at: number } | undefined;
  // As from the tarballs: a frame the report does not read gets no rows from the rollup either.
  const added: Dataframe[] = [
    ...(frames.extras ?? []),
    ...(frames.read?.events === false ? [] : [frames.events]),
    ...(frames.read?.jobHostSummary === false ? [] : [frames.jhs]),
  ];
  // Created outside the transaction: a rollback must not take the tables with it.
  for (const df of added) await df.init();
  const sources = added.map((df) => df.sources);
  await frames.jhs.db.run('BEGIN TRANSACTION');
  // The job host summaries last: staged, the only part a rollback cannot undo (events: after the commit).
  for (const df of added) {
    const part = (m.parts as Partial<Record<string, { name: string } | null>>)[df.name];
    if (!part) continue;
    try {
      const listed = await listObject(storage, part.name);
      const local = await storage.get(part.name);
      files.push(local);
      if (df === frames.events) {
        await df.db.all('SELECT num_rows FROM parquet_file_metadata($1)', [local.path]);
        events = { listed, path: local.path, at: read.length };
        continue;
      }
      const rows = df === frames.jhs ? await frames.jhs.stageParquet(local.path) : await df.addParquet(local.path);
      read.push({ kind: 'rollup', ...listed, rows });
    } catch (err) {
      await frames.jhs.db.run('ROLLBACK');
      added.forEach((d, i) => {
        d.sources = sources[i]!;
      });
      for (const f of files) await f.release();
      return { failure: { name: part.name, reason: errorMessage(err) } };
    }
  }
  await frames.jhs.db.run('COMMIT');
  if (events) read.splice(events.at, 0, { kind: 'rollup', ...events.listed, rows: await frames.events.stageParquet(events.path) });
  return { read, files };
}

/**
 * The usage tables of a period, from each day's current rollup where there is one and from the
 * tarballs for the other days (rolled up and stored first with `writeRollups`). A rollup that
 * cannot be read is named in `skipped` and its day read from the tarballs. The tables are the
 * same whichever way each day was read.
 */
export async function periodUsage(opts: PeriodUsageOptions): Promise<PeriodUsage> {
  const log = opts.logger ?? silentLogger;
  const countUnreachable = opts.countUnreachableHosts ?? false;
  const jhs = new JobHostSummary(opts.db, { reachableOnly: !countUnreachable });
  const events = new MainJobevent(opts.db);
  const inputs: UsageInput[] = [];
  const skipped: SkippedInput[] = [];
  const days = { rollup: [] as string[], raw: [] as string[] };

  const plans: DayPlan[] = [];
  for (const window of periodWindows(opts.since, opts.until, 'day')) {
    const names = await listTarballs(opts.storage, window.since, window.until);
    const tarballs = await Promise.all(names.map((n) => listObject(opts.storage, n)));
    const manifest = opts.from === 'raw' ? undefined : await readManifest(opts.storage, 'day', window.date, opts.prefix);
    plans.push({ window, tarballs, manifest });
  }
  const kinds = requiredKinds(opts.extraDataframes);
  const stale = (p: DayPlan) => p.tarballs.length > 0 && !isCurrent(p.manifest, p.tarballs, countUnreachable, kinds);
  if (opts.writeRollups && opts.from !== 'raw') {
    // One rollup (one database) per run of consecutive stale days.
    const runs: DayPlan[][] = [];
    plans.forEach((p, i) => {
      if (!stale(p)) return;
      const last = runs.at(-1);
      if (last && plans[i - 1] === last.at(-1)) last.push(p);
      else runs.push([p]);
    });
    for (const run of runs) {
      const [first, last] = [run[0]!, run.at(-1)!];
      await rollup({ storage: opts.storage, since: first.window.since, until: last.window.until, period: 'day', reachableOnly: !countUnreachable, logger: log, ...(opts.prefix ? { prefix: opts.prefix } : {}) });
      for (const p of run) p.manifest = await readManifest(opts.storage, 'day', p.window.date, opts.prefix);
    }
  }

  const rawNames = new Set<string>();
  const files: LocalFile[] = [];
  for (const p of plans) {
    if (p.tarballs.length === 0) continue;
    if (!stale(p) && p.manifest && !refusedAny(p.manifest)) {
      const added = await addRollupDay(opts.storage, p.manifest, { jhs, events, extras: opts.extraDataframes, read: opts.read });
      if ('read' in added) {
        inputs.push(...added.read);
        files.push(...added.files);
        days.rollup.push(p.window.date);
        continue;
      }
      log.warn('rollup cannot be read; its day is read from the tarballs', { ...added.failure });
      skipped.push(added.failure);
    }
    days.raw.push(p.window.date);
    for (const t of p.tarballs) rawNames.add(t.name);
  }

  try {
    if (rawNames.size === 0) {
      const adjust = await opts.onLoaded?.(jhs, events);
      const usage = await usageTables(jhs, { events, organizationFilter: opts.organizationFilter, keepEvents: opts.keepEvents, consume: true, hostNameMapping: adjust?.hostNameMapping });
      return { usage, inputs, skipped, days, removed: Promise.resolve() };
    }
    const onLoaded = opts.onLoaded;
    const loaded = await loadUsage({
      storage: onlyTarballs(opts.storage, rawNames),
      since: opts.since,
      until: opts.until,
      jobHostSummary: jhs,
      events,
      organizationFilter: opts.organizationFilter,
      logger: log,
      ...(opts.onExtracted ? { onExtracted: opts.onExtracted } : {}),
      read: opts.read,
      extraDataframes: opts.extraDataframes,
      keepEvents: opts.keepEvents,
      ...(onLoaded ? { onLoaded: () => onLoaded(jhs, events) } : {}),
    });
    const failed = new Set(loaded.failures.map((f: ExtractFailure) => f.file));
    const listedRaw = new Map(plans.flatMap((p) => p.tarballs).map((t) => [t.name, t]));
    for (const name of loaded.tarballs) inputs.push({ kind: 'tarball', ...(listedRaw.get(name) ?? { name, size: -1 }) });
    for (const { file, error, ...where } of loaded.failures) skipped.push({ name: file, reason: error, ...where });
    for (const name of rawNames) if (!failed.has(name) && !loaded.tarballs.includes(name)) skipped.push({ name, reason: 'not read' });
    return { usage: loaded.usage, inputs, skipped, days, removed: loaded.removed };
  } finally {
    // The usage tables are built: the staged rollup files are no longer read.
    for (const f of files) await f.release();
  }
}
