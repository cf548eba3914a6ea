import { errorMessage, type Logger, mapConcurrent, silentLogger } from '@tally/core';
import { type ExtractFailure, listTarballs } from '@tally/extractors';
import type { LocalFile, Store } from '@tally/storage';
import { contentFromRollups } from './content-rollup.js';
import type { Dataframe } from './dataframe.js';
import { type DuckDbStatements, literal, type TallyDuckDb } from './duckdb.js';
import { type HashedObject, hashFile, type ListedObject, listObject, type ReadProgress, sameListing } from './inputs.js';
import { JobHostSummary } from './job-host-summary.js';
import { MainJobevent } from './main-jobevent.js';
import { COUNTING_RULE_VERSION, type PeriodWindow, periodWindows, type RollupKind, type RollupManifest, type RollupManifestPart, readManifest, rollup } from './rollup.js';
import { type LoadedAdjustments, loadUsage, type LoadUsageOptions, USAGE_TABLES, type UsageTables, usageTables } from './usage.js';
import { MONTH_TO_DATE_STATUS_KIND, monthToDateCovers } from './month-to-date.js';
import { usageFromRollups, usageMergeable, usageRollupsOverlap } from './usage-rollup.js';
import { READY_SHEET_TABLES } from './usage-sheets.js';

/** The kinds a report reads: a rollup is usable only when it rolled both up. */
const REPORT_KINDS: readonly RollupKind[] = ['job_host_summary', 'main_jobevent'];

export interface PeriodUsageOptions {
  storage: Store;
  db: TallyDuckDb;
  /** `[since, until)`, whole UTC days. */
  since: Date;
  until: Date;
  /** TALLY_COUNT_UNREACHABLE_HOSTS (default false: rows whose counters but `dark` do not sum to more than 0 are dropped). */
  countUnreachableHosts?: boolean;
  /** `raw` reads every tarball; `auto` (default) reads each day's current rollup and only the rest raw. */
  from?: 'auto' | 'raw';
  /** Roll the days without a current rollup up (stored, with their manifest) and read those. */
  writeRollups?: boolean;
  organizationFilter?: readonly string[] | undefined;
  logger?: Logger;
  /** Key prefix of the rollups (default `rollups`). */
  prefix?: string;
  /** Called when DuckDB starts aggregating, the tarballs' rows or the usage rollups' (the main thread is free then). */
  onExtracted?: () => void;
  /**
   * More dataframes on `db` (main_host, data_collection_status): a day read from its rollup adds
   * its part of each (so a rollup is current only when it rolled every one of them up), a day read
   * raw its tarballs' rows.
   */
  extraDataframes?: readonly Dataframe[] | undefined;
  /** Which of job host summaries and events to read from the tarballs (default both; see `LoadUsageOptions.read`). */
  read?: LoadUsageOptions['read'];
  /** Told as the period is planned, its rollups read, its tarballs extracted and aggregated. */
  onProgress?: ((p: ReadProgress) => void) | undefined;
  /** Called with the job host summaries and events once everything is loaded, before the usage tables consume them. */
  onLoaded?: ((jhs: JobHostSummary, events: MainJobevent) => Promise<LoadedAdjustments | undefined>) | undefined;
  /** See `UsageOptions.keepEvents`. */
  keepEvents?: (() => boolean) | undefined;
  /**
   * The caller's sheets read only the usage sheets' aggregations (usage-sheets.ts): when one
   * month-to-date merge stands for every day read, without an organization filter or content,
   * its stored sheet rows are read into `UsageTables.ready` and the usage tables are not built.
   */
  readySheets?: boolean | undefined;
  /** See `UsageOptions.deferContent`. */
  deferContent?: boolean | undefined;
}

/** One input of a report: a tarball read raw, or a rollup part. */
export interface UsageInput extends ListedObject {
  /** SHA-256 of the bytes read, where known (rollup parts: checked against their manifest). */
  sha256?: string | undefined;
  kind: 'tarball' | 'rollup';
  /** Rows it contributed (rollup parts: the grouped rows read). */
  rows?: number | undefined;
  /** A tarball's data records, per CSV member read (counted as it was extracted). */
  csvRows?: Record<string, number> | undefined;
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

/** The kinds a rollup must hold for this read: both report kinds and every extra dataframe's. */
function requiredKinds(extras: readonly Dataframe[] | undefined): string[] {
  return [...REPORT_KINDS, ...(extras ?? []).map((d) => d.name)];
}

/** A manifest's part of kind `k`: absent (undefined), none in the period (null), or the part. */
const partOf = (m: RollupManifest, k: string): RollupManifestPart | null | undefined => (m.parts as Partial<Record<string, RollupManifestPart | null>>)[k];

/**
 * Is `m` a rollup of exactly these tarballs, under this rule (and its current version), with every kind in `kinds`, each part
 * with the size and SHA-256 it was written with (a manifest without them cannot vouch for its parts)?
 */
function isCurrent(m: RollupManifest | undefined, tarballs: readonly ListedObject[], countUnreachable: boolean, kinds: readonly string[]): m is RollupManifest {
  if (!m || m.countUnreachableHosts !== countUnreachable || (m.countingRuleVersion ?? 1) !== COUNTING_RULE_VERSION) return false;
  for (const k of kinds) {
    const part = partOf(m, k);
    if (part === undefined || (part && (part.sha256 === undefined || part.size === undefined))) return false;
  }
  return sameListing(m.inputs, tarballs);
}

/**
 * Did the rollup refuse a tarball? Its days are then read raw: which tarballs a read refuses
 * depends on the members it reads (a rollup reads every kind's, a report only its sheets'), and
 * the report names what it refused.
 */
const refusedAny = (m: RollupManifest) => m.inputs.some((i) => i.skipped !== undefined);

/** A part of a rollup: a kind's rows (by dataframe name), or its usage tables (see usage-rollup.ts). */
type PartKey = string;

/** A rollup's parts fetched and checked against their manifest, kept local until the usage tables are built. */
interface FetchedRollup {
  manifest: RollupManifest;
  parts: { kind: PartKey; local: LocalFile; input: UsageInput & HashedObject }[];
}

type Fetch = { fetched: FetchedRollup } | { failure: SkippedInput };

/** The dataframes a report fills from a rollup, as from the tarballs: a frame it does not read gets no rows. */
interface Frames {
  jhs: JobHostSummary;
  events: MainJobevent;
  extras: readonly Dataframe[];
  read: PeriodUsageOptions['read'];
}

/**
 * The parts a report reads at the job grain, the job host summaries last (`addRollup` adds the
 * others in its transaction before staging them, which a rollback cannot undo).
 */
function jobGrainFrames(f: Frames): Dataframe[] {
  return [...f.extras, ...(f.read?.events === false ? [] : [f.events]), ...(f.read?.jobHostSummary === false ? [] : [f.jhs])];
}
const partsFor = (m: RollupManifest, frames: readonly Dataframe[]): [PartKey, RollupManifestPart | null | undefined][] => frames.map((d) => [d.name, partOf(m, d.name)]);

/**
 * Fetch some of a rollup's parts and check each against its manifest's size and SHA-256: a part
 * that is corrupt anywhere (not only in its footer) or truncated is refused here, named, before a
 * row of it is read.
 */
async function fetchRollup(storage: Store, m: RollupManifest, which: [PartKey, RollupManifestPart | null | undefined][]): Promise<Fetch> {
  const parts: FetchedRollup['parts'] = [];
  const release = async () => {
    for (const p of parts) await p.local.release();
  };
  for (const [kind, part] of which) {
    if (!part) continue;
    try {
      const listed = await listObject(storage, part.name);
      const local = await storage.get(part.name);
      const sha256 = await hashFile(local.path);
      parts.push({ kind, local, input: { kind: 'rollup', ...listed, sha256, rows: part.rows } });
      if (sha256 !== part.sha256 || listed.size !== part.size) {
        await release();
        const reason = `corrupt or truncated: ${listed.size} bytes, sha256 ${sha256.slice(0, 12)}…; its manifest recorded ${part.size} bytes, sha256 ${part.sha256?.slice(0, 12)}…`;
        return { failure: { name: part.name, reason } };
      }
    } catch (err) {
      await release();
      return { failure: { name: part.name, reason: errorMessage(err) } };
    }
  }
  return { fetched: { manifest: m, parts } };
}

/**
 * Add a fetched rollup's parts to `frames` (matched by dataframe name), all or none: the others
 * in a transaction, then the job host summaries, staged in their file. Returns the failure naming
 * the part that could not be read, if any.
 */
async function addRollup(r: FetchedRollup, frames: readonly Dataframe[], jhs: JobHostSummary, events?: MainJobevent): Promise<SkippedInput | undefined> {
  // Created outside the transaction: a rollback must not take the tables with it.
  for (const df of frames) await df.init();
  const sources = frames.map((df) => df.sources);
  let staged: FetchedRollup['parts'][number] | undefined;
  await jhs.db.run('BEGIN TRANSACTION');
  for (const df of frames) {
    const p = r.parts.find((x) => x.kind === df.name);
    if (!p) continue;
    try {
      if (df === events) {
        // Staged after the commit (staging cannot be rolled back), read once by the content aggregation: its footer checked now.
        await df.db.all('SELECT num_rows FROM parquet_file_metadata($1)', [p.local.path]);
        staged = p;
        continue;
      }
      p.input.rows = df === jhs ? await jhs.stageParquet(p.local.path) : await df.addParquet(p.local.path);
    } catch (err) {
      await jhs.db.run('ROLLBACK');
      frames.forEach((d, i) => {
        d.sources = sources[i]!;
      });
      return { name: p.input.name, reason: errorMessage(err) };
    }
  }
  await jhs.db.run('COMMIT');
  if (staged && events) staged.input.rows = await events.stageParquet(staged.local.path);
  return undefined;
}

/** The day plans of `[since, until)`: each day's tarballs as listed, and its day rollup's manifest. */
async function planDays(opts: PeriodUsageOptions): Promise<DayPlan[]> {
  return mapConcurrent(periodWindows(opts.since, opts.until, 'day'), PLAN_CONCURRENCY, async (window) => {
    const names = await listTarballs(opts.storage, window.since, window.until);
    const tarballs = await Promise.all(names.map((n) => listObject(opts.storage, n)));
    const manifest = opts.from === 'raw' ? undefined : await readManifest(opts.storage, 'day', window.date, opts.prefix);
    return { window, tarballs, manifest };
  });
}

/** Days planned at once: each is a few small round trips to the storage (a listing, stats, a manifest). */
const PLAN_CONCURRENCY = 8;

/** Months wholly inside `[since, until)` with a current month rollup: their days' plans, and the rollup. */
async function currentMonths(opts: PeriodUsageOptions, plans: readonly DayPlan[], countUnreachable: boolean, kinds: readonly string[]): Promise<{ days: DayPlan[]; manifest: RollupManifest }[]> {
  const out: { days: DayPlan[]; manifest: RollupManifest }[] = [];
  for (const w of periodWindows(opts.since, opts.until, 'month')) {
    if (w.since.getTime() < opts.since.getTime() || w.until.getTime() > opts.until.getTime()) continue;
    const days = plans.filter((p) => p.window.date.startsWith(`${w.date}-`));
    const tarballs = days.flatMap((p) => p.tarballs);
    if (tarballs.length === 0) continue;
    const manifest = await readManifest(opts.storage, 'month', w.date, opts.prefix);
    if (isCurrent(manifest, tarballs, countUnreachable, kinds) && !refusedAny(manifest)) out.push({ days, manifest });
  }
  return out;
}

/** A current rollup chosen for some days of the period. */
interface Chosen {
  manifest: RollupManifest;
  days: DayPlan[];
}

/**
 * The usage tables of a period, from each whole month's current month rollup, else each day's
 * current day rollup, and from the tarballs for the other days (those rolled up and stored
 * first with `writeRollups`). When every day has a current rollup whose usage tables merge
 * (see usage-rollup.ts), only those small files are read. A rollup that cannot be read, or whose
 * part is corrupt or truncated, is named in `skipped` (and a warning) and its days read from the
 * tarballs (rolled up again with `writeRollups`). The tables are the same whichever way each day was read.
 */
export async function periodUsage(opts: PeriodUsageOptions): Promise<PeriodUsage> {
  const log = opts.logger ?? silentLogger;
  const countUnreachable = opts.countUnreachableHosts ?? false;
  const jhs = new JobHostSummary(opts.db, { reachableOnly: !countUnreachable });
  const events = new MainJobevent(opts.db);
  const frames: Frames = { jhs, events, extras: opts.extraDataframes ?? [], read: opts.read };
  const kinds = requiredKinds(opts.extraDataframes);
  const skipped: SkippedInput[] = [];
  const plans = await planDays(opts);
  const total = plans.filter((p) => p.tarballs.length > 0).length;
  opts.onProgress?.({ phase: 'plan', days: { done: 0, total }, tarballs: plans.reduce((n, p) => n + p.tarballs.length, 0) });
  const refused = (failure: SkippedInput, why = 'rollup cannot be read; its days are read from the tarballs') => {
    log.warn(why, { ...failure });
    skipped.push(failure);
  };

  const { chosen, stale, rollable } = await chooseRollups(opts, plans, countUnreachable, kinds);
  // A rollup that cannot be read is rolled up again (with writeRollups) and read raw meanwhile.
  const unusable = (c: Chosen) => {
    chosen.splice(chosen.indexOf(c), 1);
    for (const d of c.days) {
      stale.add(d);
      rollable.add(d);
    }
  };
  if (stale.size === 0 && chosen.length > 0) {
    const fast = await fromUsageRollups(opts, chosen, { frames, refused, log });
    if ('usage' in fast) return { ...fast, skipped, days: { rollup: daysOf(chosen), raw: [] } };
    for (const c of fast.bad) unusable(c);
  }

  const fetched: { rollup: FetchedRollup; days: DayPlan[] }[] = [];
  const fetchChosen = async (c: Chosen) => {
    const f = await fetchRollup(opts.storage, c.manifest, partsFor(c.manifest, jobGrainFrames(frames)));
    if ('fetched' in f) return void fetched.push({ rollup: f.fetched, days: c.days });
    refused(f.failure);
    for (const d of c.days) {
      stale.add(d);
      rollable.add(d);
    }
  };
  for (const c of [...chosen]) await fetchChosen(c);
  if (opts.writeRollups && opts.from !== 'raw' && rollable.size > 0) {
    for (const p of await rollStaleDays(opts, plans, rollable, log, countUnreachable)) {
      p.manifest = await readManifest(opts.storage, 'day', p.window.date, opts.prefix);
      if (!isCurrent(p.manifest, p.tarballs, countUnreachable, kinds) || refusedAny(p.manifest)) continue;
      stale.delete(p);
      await fetchChosen({ manifest: p.manifest, days: [p] });
    }
  }

  const inputs: UsageInput[] = [];
  const files: LocalFile[] = fetched.flatMap((f) => f.rollup.parts.map((p) => p.local));
  const read: Chosen[] = [];
  try {
    for (const f of fetched) {
      const failure = await addRollup(f.rollup, jobGrainFrames(frames), jhs, events);
      if (failure) {
        refused(failure);
        for (const p of f.days) stale.add(p);
        continue;
      }
      inputs.push(...f.rollup.parts.map((p) => p.input));
      read.push({ manifest: f.rollup.manifest, days: f.days });
    }
    const rawNames = new Set(plans.filter((p) => stale.has(p)).flatMap((p) => p.tarballs.map((t) => t.name)));
    const days = { rollup: daysOf(read), raw: plans.filter((p) => stale.has(p)).map((p) => p.window.date) };
    const rows = inputs.reduce((n, i) => n + (i.rows ?? 0), 0);
    if (days.rollup.length) opts.onProgress?.({ phase: 'rollups', days: { done: days.rollup.length, total }, rows });
    return await readRest(opts, { jhs, events }, { plans, rawNames, inputs, skipped, days, log });
  } finally {
    // The usage tables are built: the staged rollup files are no longer read.
    for (const f of files) await f.release();
  }
}

/**
 * Which current rollups a read uses: whole months first (one month rollup replaces its days'
 * rollups), then each other day's. `stale`: the days read raw; `rollable`: those of them whose
 * rollup is missing or out of date (a current one that refused a tarball is read raw, not rebuilt).
 */
async function chooseRollups(
  opts: PeriodUsageOptions,
  plans: readonly DayPlan[],
  countUnreachable: boolean,
  kinds: readonly string[],
): Promise<{ chosen: Chosen[]; stale: Set<DayPlan>; rollable: Set<DayPlan> }> {
  const chosen: Chosen[] = opts.from === 'raw' ? [] : await currentMonths(opts, plans, countUnreachable, kinds);
  const stale = new Set<DayPlan>();
  const rollable = new Set<DayPlan>();
  const covered = new Set(chosen.flatMap((c) => c.days));
  for (const p of plans) {
    if (p.tarballs.length === 0 || covered.has(p)) continue;
    const m = opts.from === 'raw' ? undefined : p.manifest;
    const current = isCurrent(m, p.tarballs, countUnreachable, kinds);
    if (current && !refusedAny(m)) chosen.push({ manifest: m, days: [p] });
    else {
      stale.add(p);
      if (!current) rollable.add(p);
    }
  }
  return { chosen, stale, rollable };
}

/** The days (with tarballs) of these rollups, sorted. */
const daysOf = (cs: readonly Chosen[]) => cs.flatMap((c) => c.days.filter((p) => p.tarballs.length > 0).map((p) => p.window.date)).sort();

/** `f` called on the first call only. */
function once(f: () => void): () => void {
  let called = false;
  return () => {
    if (called) return;
    called = true;
    f();
  };
}

/**
 * The parts a day's usage rollup is read with: its usage tables unless a month-to-date merge
 * stands for them (`merged`), with `content` its content rollup, and the extra dataframes' parts
 * (their rows are read as they are) but its data_collection_status part when a month-to-date
 * merge holds its rows (`status`).
 */
const usageParts = (
  m: RollupManifest,
  extras: readonly Dataframe[],
  { content, merged, status }: { content: boolean; merged: boolean; status: boolean },
): [PartKey, RollupManifestPart | null | undefined][] => [
  ...(merged ? [] : ([['usage_hosts', m.usage?.hosts], ['usage_jobs', m.usage?.jobs]] satisfies [PartKey, RollupManifestPart | undefined][])),
  ...(content ? [['usage_content', m.usage?.content] satisfies [PartKey, RollupManifestPart | undefined]] : []),
  ...partsFor(m, status ? extras.filter((d) => d.name !== MONTH_TO_DATE_STATUS_KIND) : extras),
];

/**
 * Do the content sheets come from content rollups? When the events are read and some chosen day
 * has them. Not merged under an organization filter (the events then take only the filtered
 * organizations' host renames) nor when a consumer needs the events' rows (`keepEvents`).
 */
const readsContent = (opts: PeriodUsageOptions, chosen: readonly Chosen[]) =>
  (opts.read?.events ?? true) && chosen.some((c) => (c.manifest.parts.main_jobevent?.rows ?? 0) > 0);

/**
 * The usage tables from the chosen rollups' usage files alone, when each has mergeable ones and
 * no job appears in two of them. Otherwise the rollups whose usage files were refused (named in
 * `skipped`), for the caller to read from the tarballs; none when they merely do not merge.
 */
async function fromUsageRollups(
  opts: PeriodUsageOptions,
  chosen: readonly Chosen[],
  ctx: { frames: Frames; refused: (f: SkippedInput, why?: string) => void; log: Logger },
): Promise<Omit<PeriodUsage, 'skipped' | 'days'> | { bad: Chosen[] }> {
  const content = readsContent(opts, chosen);
  if ((opts.read?.jobHostSummary ?? true) === false || !chosen.every((c) => usageMergeable(c.manifest, content))) return { bad: [] };
  if (content && opts.organizationFilter?.length) return { bad: [] };
  const got: FetchedRollup[] = [];
  const bad: Chosen[] = [];
  const toDate: MonthsToDate = { fetched: [], covered: new Set(), contentCovered: new Set(), statusCovered: new Set(), ready: false };
  // Statements on the second connection, which read parts this function releases.
  let sheetsCopied: Promise<boolean> | undefined;
  let merging: ContentBeside | undefined;
  try {
    const sheets = (opts.readySheets ?? false) && !opts.organizationFilter?.length;
    const status = ctx.frames.extras.some((d) => d.name === MONTH_TO_DATE_STATUS_KIND);
    await fetchMonthsToDate(opts.storage, chosen, toDate, { refused: ctx.refused, sheets, content, status });
    for (const c of chosen) {
      const parts = usageParts(c.manifest, ctx.frames.extras, {
        content: content && !toDate.contentCovered.has(c),
        merged: toDate.covered.has(c),
        status: toDate.statusCovered.has(c),
      });
      const f = await fetchRollup(opts.storage, c.manifest, parts);
      if ('fetched' in f) got.push(f.fetched);
      else {
        ctx.refused(f.failure);
        bad.push(c);
      }
    }
    if (bad.length > 0) return { bad };
    const read = [...toDate.fetched, ...got];
    const paths = (k: PartKey) => read.flatMap((r) => r.parts.filter((p) => p.kind === k).map((p) => p.local.path));
    // DuckDB is busy from the first long statement on (the overlap check reads every jobs file,
    // then the merge): the main thread is free for the caller's work meanwhile.
    const busy = once(() => opts.onExtracted?.());
    if (paths('usage_jobs').length > 1) busy();
    if (await usageRollupsOverlap(opts.db, paths('usage_jobs'))) {
      ctx.log.debug('usage rollups share jobs across periods: reading the job-grain rollups');
      return { bad: [] };
    }
    const inputs = read.flatMap((r) => r.parts.map((p) => p.input));
    opts.onProgress?.({ phase: 'rollups', days: { done: daysOf(chosen).length, total: daysOf(chosen).length }, rows: inputs.reduce((n, i) => n + (i.rows ?? 0), 0) });
    // Copied beside the extras' rows (neither reads the other's tables); awaited below, or
    // before the parts are released when a read at the job grain takes over.
    if (toDate.ready) sheetsCopied = readSheets(opts.db.beside, { hosts: paths('sheet_hosts')[0]!, orgs: paths('sheet_orgs')[0]! });
    sheetsCopied?.catch(() => {});
    // The extra dataframes' rows as they are (the month-to-date merges' data_collection_status rows
    // first); the sheets' other inputs (INDIRECT rows, events) are absent from these days.
    const atOnce = await addExtrasAtOnce(read, ctx.frames.extras);
    for (const [i, r] of (atOnce ? [] : read).entries()) {
      const failure = await addRollup(r, ctx.frames.extras, ctx.frames.jhs);
      if (!failure) continue;
      // Only rollups have filled the extra dataframes so far: emptied, they are read again at the job grain.
      for (const df of ctx.frames.extras) await df.clear();
      ctx.refused(failure);
      // A month-to-date merge's part: every day is read at the job grain (each with its own parts).
      return { bad: i < toDate.fetched.length ? [] : [chosen[i - toDate.fetched.length]!] };
    }
    await opts.onLoaded?.(ctx.frames.jhs, ctx.frames.events);
    if (content && opts.keepEvents?.()) {
      for (const df of ctx.frames.extras) await df.clear();
      return { bad: [] };
    }
    busy();
    const usage = await mergedUsage(opts, { sheetsCopied, paths });
    const contentParts = content ? read.flatMap((r) => r.parts.filter((p) => p.kind === 'usage_content')) : [];
    merging = contentParts.length > 0 ? contentBeside(opts.db, contentParts) : undefined;
    if (merging && usage.empty) usage.content = await merging.merged;
    else if (merging) Object.assign(usage, { content: USAGE_TABLES.content, contentReady: merging.ready });
    return { usage, inputs, removed: merging?.removed ?? Promise.resolve() };
  } finally {
    await sheetsCopied?.catch(() => {});
    for (const r of [...toDate.fetched, ...got]) for (const p of r.parts) if (!merging?.parts.includes(p)) await p.local.release();
  }
}

/** The usage tables of usage rollups: their ready sheet rows (copied on the second connection), else their usage tables merged. */
async function mergedUsage(opts: PeriodUsageOptions, from: { sheetsCopied: Promise<boolean> | undefined; paths: (k: PartKey) => string[] }): Promise<UsageTables> {
  const usage: UsageTables = { db: opts.db, hosts: USAGE_TABLES.hosts, jobs: USAGE_TABLES.jobs, hostMap: undefined, events: undefined, empty: false, method: 'usage-rollups' };
  if (!from.sheetsCopied) {
    usage.empty = (await usageFromRollups(opts.db, { hosts: from.paths('usage_hosts'), jobs: from.paths('usage_jobs') }, opts.organizationFilter)).empty;
    return usage;
  }
  // Regular tables only: the Managed nodes statement may run on the second connection.
  return { ...usage, ready: READY_SHEET_TABLES, beside: opts.db.beside, empty: await from.sheetsCopied };
}

/** The content merge running on the second connection, and its parts, released once it has settled. */
interface ContentBeside {
  parts: readonly FetchedRollup['parts'][number][];
  /** `mergedContent`'s result. */
  merged: Promise<string | undefined>;
  /** `UsageTables.contentReady`: settles once `content` is filled, rejects with why it could not be. */
  ready: () => Promise<void>;
  /** Never rejects. */
  removed: Promise<void>;
}

/**
 * The content sheets' table merged from content rollups on the database's second connection, so
 * that it runs beside the statements that follow on the first (the workbook's Managed nodes rows).
 */
function contentBeside(db: TallyDuckDb, parts: ContentBeside['parts']): ContentBeside {
  const merged = mergedContent(db.beside, parts.map((p) => p.local.path));
  merged.catch(() => {});
  const removed = merged
    .catch(() => undefined)
    .then(async () => {
      for (const p of parts) await p.local.release();
    })
    .catch(() => {});
  return { parts, merged, ready: async () => void (await merged), removed };
}

/**
 * Add every rollup's extra parts to their dataframes at once (one statement per dataframe and
 * column set, in one transaction). False, with nothing added, when that fails: the caller adds
 * them rollup by rollup, which names the part that cannot be read.
 */
async function addExtrasAtOnce(rollups: readonly FetchedRollup[], extras: readonly Dataframe[]): Promise<boolean> {
  const [first] = extras;
  if (!first) return true;
  for (const df of extras) await df.init();
  const sources = extras.map((df) => df.sources);
  await first.db.run('BEGIN TRANSACTION');
  try {
    for (const df of extras) {
      const parts = rollups.flatMap((r) => r.parts.filter((p) => p.kind === df.name));
      const rows = await df.addParquetFiles(parts.map((p) => p.local.path));
      parts.forEach((p, i) => {
        p.input.rows = rows[i];
      });
    }
  } catch {
    await first.db.run('ROLLBACK');
    extras.forEach((df, i) => {
      df.sources = sources[i]!;
    });
    return false;
  }
  await first.db.run('COMMIT');
  return true;
}

/** Month-to-date merges fetched for a read, the day rollups they stand for (their content rollups' too), and whether they are its ready sheets. */
interface MonthsToDate {
  fetched: FetchedRollup[];
  covered: Set<Chosen>;
  contentCovered: Set<Chosen>;
  /** Days whose data_collection_status rows a fetched merge holds. */
  statusCovered: Set<Chosen>;
  ready: boolean;
}

/**
 * Fetch the month-to-date usage rollups that stand for some of the chosen day rollups (see
 * month-to-date.ts) into `out`, with the days they cover: with `sheets`, when one stands for
 * them all, its sheets' rows alone (`ready`); with `content`, their content merges; with `status`,
 * their data_collection_status rows. One that cannot be read is named, and its usage tables, else
 * its days' own usage (content, data_collection_status) parts, are read instead.
 */
async function fetchMonthsToDate(
  storage: Store,
  chosen: readonly Chosen[],
  out: MonthsToDate,
  { refused, sheets, content, status }: { refused: (f: SkippedInput, why?: string) => void; sheets: boolean; content: boolean; status: boolean },
): Promise<void> {
  const byManifest = new Map(chosen.map((c) => [c.manifest, c]));
  const covers = monthToDateCovers(chosen.map((c) => c.manifest));
  const from = { refused, chosen: byManifest };
  if (content) {
    const instead = "month-to-date content rollup cannot be read; its days' content rollups are merged instead";
    await fetchMergedParts(storage, covers, out, from, { of: (m) => m.content, key: 'usage_content', covered: out.contentCovered, instead });
  }
  if (status) {
    const instead = "month-to-date data collection status cannot be read; its days' parts are read instead";
    await fetchMergedParts(storage, covers, out, from, { of: (m) => m.status, key: MONTH_TO_DATE_STATUS_KIND, covered: out.statusCovered, instead });
  }
  const [only] = covers;
  const ready = sheets && covers.length === 1 && only!.days.length === chosen.length ? only!.merged.sheets : undefined;
  if (ready) {
    const f = await fetchRollup(storage, only!.last, [
      ['sheet_hosts', ready.hosts],
      ['sheet_orgs', ready.orgs],
    ]);
    if ('fetched' in f) {
      out.fetched.push(f.fetched);
      out.ready = true;
      for (const c of chosen) out.covered.add(c);
      return;
    }
    refused(f.failure, 'month-to-date usage sheets cannot be read; the month-to-date usage rollup is read instead');
  }
  for (const cover of covers) {
    const f = await fetchRollup(storage, cover.last, [
      ['usage_hosts', cover.merged.hosts],
      ['usage_jobs', cover.merged.jobs],
    ]);
    if (!('fetched' in f)) {
      refused(f.failure, "month-to-date usage rollup cannot be read; its days' usage rollups are merged instead");
      continue;
    }
    out.fetched.push(f.fetched);
    for (const m of cover.days) out.covered.add(byManifest.get(m)!);
  }
}

/** A part a month-to-date merge may hold beside its usage tables: which, under what key, the days it then covers. */
interface MergedPart {
  of: (merged: ReturnType<typeof monthToDateCovers>[number]['merged']) => RollupManifestPart | undefined;
  key: PartKey;
  covered: Set<Chosen>;
  /** Said when the merge's part cannot be read. */
  instead: string;
}

/** That part of each of these month-to-date covers into `out`; one that cannot be read is named, and its days' own parts read instead. */
async function fetchMergedParts(
  storage: Store,
  covers: ReturnType<typeof monthToDateCovers>,
  out: MonthsToDate,
  { refused, chosen }: { refused: (f: SkippedInput, why?: string) => void; chosen: ReadonlyMap<RollupManifest, Chosen> },
  part: MergedPart,
): Promise<void> {
  for (const cover of covers) {
    const merged = part.of(cover.merged);
    if (!merged) continue;
    const f = await fetchRollup(storage, cover.last, [[part.key, merged]]);
    if (!('fetched' in f)) {
      refused(f.failure, part.instead);
      continue;
    }
    out.fetched.push(f.fetched);
    for (const m of cover.days) part.covered.add(chosen.get(m)!);
  }
}

/** Load a month-to-date merge's sheet rows into `READY_SHEET_TABLES`; is it empty (no host row)? */
async function readSheets(db: DuckDbStatements, files: { hosts: string; orgs: string }): Promise<boolean> {
  // The files' own columns: a part stored below `period=day/date=…/` would otherwise also get those
  // two as columns (DuckDB's hive partitioning), copied into every row for nothing.
  const read = (file: string) => `read_parquet(${literal(file)}, hive_partitioning = false)`;
  await db.run(`CREATE OR REPLACE TABLE ${READY_SHEET_TABLES.hosts} AS SELECT * FROM ${read(files.hosts)}`);
  await db.run(`CREATE OR REPLACE TABLE ${READY_SHEET_TABLES.orgs} AS SELECT * FROM ${read(files.orgs)}`);
  const [n] = await db.all<{ n: bigint }>(`SELECT count(*) AS n FROM ${READY_SHEET_TABLES.hosts}`);
  return Number(n?.n ?? 0) === 0;
}

/** `USAGE_TABLES.content` merged from content rollups (see content-rollup.ts); undefined when it has no row. */
async function mergedContent(db: DuckDbStatements, files: readonly string[]): Promise<string | undefined> {
  if (files.length === 0) return undefined;
  await contentFromRollups(db, files, USAGE_TABLES.content);
  const [n] = await db.all<{ n: bigint }>(`SELECT count(*) AS n FROM ${USAGE_TABLES.content}`);
  return Number(n?.n ?? 0) > 0 ? USAGE_TABLES.content : undefined;
}

/** Roll up (and store) the stale days, one rollup (one database) per run of consecutive stale days. Returns the days rolled up. */
async function rollStaleDays(opts: PeriodUsageOptions, plans: readonly DayPlan[], stale: ReadonlySet<DayPlan>, log: Logger, countUnreachable: boolean): Promise<DayPlan[]> {
  const runs: DayPlan[][] = [];
  plans.forEach((p, i) => {
    if (!stale.has(p)) return;
    const last = runs.at(-1);
    if (last && plans[i - 1] === last.at(-1)) last.push(p);
    else runs.push([p]);
  });
  for (const run of runs) {
    const [first, last] = [run[0]!, run.at(-1)!];
    await rollup({ storage: opts.storage, since: first.window.since, until: last.window.until, period: 'day', reachableOnly: !countUnreachable, logger: log, ...(opts.prefix ? { prefix: opts.prefix } : {}) });
  }
  return runs.flat();
}

/** The usage tables over the rollups already added and the tarballs of the days read raw. */
async function readRest(
  opts: PeriodUsageOptions,
  frames: { jhs: JobHostSummary; events: MainJobevent },
  r: { plans: readonly DayPlan[]; rawNames: ReadonlySet<string>; inputs: UsageInput[]; skipped: SkippedInput[]; days: PeriodUsage['days']; log: Logger },
): Promise<PeriodUsage> {
  const { jhs, events } = frames;
  const { rawNames, inputs, skipped, days } = r;
  if (rawNames.size === 0) {
    const adjust = await opts.onLoaded?.(jhs, events);
    const usage = await usageTables(jhs, { events, organizationFilter: opts.organizationFilter, keepEvents: opts.keepEvents, consume: true, hostNameMapping: adjust?.hostNameMapping });
    return { usage, inputs, skipped, days, removed: Promise.resolve() };
  }
  const onLoaded = opts.onLoaded;
  const total = r.plans.filter((p) => p.tarballs.length > 0).length;
  opts.onProgress?.({ phase: 'extract', days: { done: days.rollup.length, total }, tarballs: rawNames.size });
  const loaded = await loadUsage({
    storage: onlyTarballs(opts.storage, rawNames),
    since: opts.since,
    until: opts.until,
    jobHostSummary: jhs,
    events,
    organizationFilter: opts.organizationFilter,
    logger: r.log,
    onExtracted: (read) => {
      const rolled = inputs.reduce((n, i) => n + (i.rows ?? 0), 0);
      opts.onProgress?.({ phase: 'aggregate', days: { done: total, total }, tarballs: read.tarballs, rows: rolled + read.rows });
      opts.onExtracted?.();
    },
    read: opts.read,
    extraDataframes: opts.extraDataframes,
    keepEvents: opts.keepEvents,
    deferContent: opts.deferContent,
    ...(onLoaded ? { onLoaded: () => onLoaded(jhs, events) } : {}),
  });
  const failed = new Set(loaded.failures.map((f: ExtractFailure) => f.file));
  const listedRaw = new Map(r.plans.flatMap((p) => p.tarballs).map((t) => [t.name, t]));
  for (const name of loaded.tarballs) {
    const digest = loaded.digests.get(name);
    const read = digest ? { size: digest.size, sha256: digest.sha256, csvRows: Object.fromEntries(digest.records) } : {};
    inputs.push({ kind: 'tarball', ...(listedRaw.get(name) ?? { name, size: -1 }), ...read });
  }
  for (const { file, error, ...where } of loaded.failures) skipped.push({ name: file, reason: error, ...where });
  for (const name of rawNames) if (!failed.has(name) && !loaded.tarballs.includes(name)) skipped.push({ name, reason: 'not read' });
  return { usage: loaded.usage, inputs, skipped, days, removed: loaded.removed };
}
