/**
 * Month-to-date usage: the merge of a month's day usage rollups (see usage-rollup.ts) up to one
 * day, stored beside that day's rollup, so that a month's report reads one file of the month's
 * (organization, template, host) rows instead of merging each day's. On the bench month that
 * merge (3.9M rows into 200k) was most of the report's CPU and of its peak memory.
 *
 * `tally rollup --period day` writes one for each month it rolled a day of, at that month's
 * latest day with a rollup: from the latest earlier month-to-date merge that still matches its
 * days' rollups plus the days after it, else from every day (a whole month rolled in one run
 * merges once, not once a day). Its record, in that day's manifest, names each day's usage
 * parts by SHA-256: a report uses it only when the current day rollups it would merge are
 * exactly those (a day rolled again, stale or missing, and the report merges the days' own
 * usage rollups). It is written only when those days merge exactly: every day mergeable and no
 * job in two of them.
 *
 * With it, when every day of events among them has a content rollup (see content-rollup.ts), the
 * merge of those content rollups, current under the same record (each day's content part is in
 * it too): a month's content sheets then read one content rollup instead of each day's. And the
 * days' data_collection_status rows in one part (each day's part is in the record too): a report
 * reads one small file instead of one per day.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, type Logger } from '@tally/core';
import type { LocalFile, Store } from '@tally/storage';
import { mergeContentRollups } from './content-rollup.js';
import { DataCollectionStatus } from './data-collection-status.js';
import { ident, literal, type TallyDuckDb } from './duckdb.js';
import { hashFile } from './inputs.js';
import { manifestName, type PeriodWindow, periodWindows, type RollupInput, type RollupKind, type RollupManifest, type RollupManifestPart, readManifest, type StoredPart, storePart } from './rollup.js';
import { PARQUET_V2 } from './sql.js';
import { directJobs, mergedUsageHosts, usageMergeable, usageRollupsOverlap } from './usage-rollup.js';
import { hostTotalsSelect, orgTotalsSelect } from './usage-sheets.js';

type MonthToDatePart = 'hosts' | 'jobs' | 'sheet_hosts' | 'sheet_orgs' | 'content' | 'data_collection_status';

/** A month-to-date usage merge, as the manifest of its last day records it. */
export interface MonthToDate {
  hosts: RollupManifestPart;
  jobs: RollupManifestPart;
  /**
   * The usage sheets' rows of those days (usage-sheets.ts: per host, per organization), for a
   * report of exactly these days without an organization filter.
   */
  sheets?: MonthToDateSheets | undefined;
  /** The merge of those days' content rollups, when some has one and every day with events has. */
  content?: RollupManifestPart | undefined;
  /** Those days' data_collection_status rows (their day parts' rows, as a report adds them), when some day has any. */
  status?: RollupManifestPart | undefined;
  /** Each day merged, in date order, with the SHA-256 of its usage parts. */
  days: MonthToDateDay[];
  /** Those days' tarballs, as their manifests record them (what a report's audit trail lists). */
  inputs: RollupInput[];
}

export interface MonthToDateSheets {
  hosts: RollupManifestPart;
  orgs: RollupManifestPart;
}

interface MonthToDateDay {
  date: string;
  hosts: string;
  jobs: string;
  /** Of its content rollup, when it has one. */
  content?: string | undefined;
  /** Of its data_collection_status part, when it has one. */
  status?: string | undefined;
}

/** `rollups/usage_{hosts|jobs|sheet_hosts|sheet_orgs|content|data_collection_status}_month_to_date/period=day/date={date}/part-0.parquet` (apart from the day parts' trees). */
export function monthToDateName(which: MonthToDatePart, date: string, prefix = 'rollups'): string {
  return `${prefix}/usage_${which}_month_to_date/period=day/date=${date}/part-0.parquet`;
}

/** A day rollup's usage parts as a month-to-date record names them, if it has mergeable ones with their hashes. */
function dayOf(m: RollupManifest): MonthToDateDay | undefined {
  const [hosts, jobs, content, status] = [m.usage?.hosts.sha256, m.usage?.jobs.sha256, m.usage?.content?.sha256, m.parts.data_collection_status?.sha256];
  return usageMergeable(m) && hosts && jobs ? { date: m.date, hosts, jobs, ...(content ? { content } : {}), ...(status ? { status } : {}) } : undefined;
}

const sameDays = (a: readonly MonthToDateDay[], b: readonly MonthToDateDay[]) =>
  a.length === b.length &&
  a.every((d, i) => d.date === b[i]!.date && d.hosts === b[i]!.hosts && d.jobs === b[i]!.jobs && d.content === b[i]!.content && d.status === b[i]!.status);

/** The kind whose day parts the merge's `status` part holds the rows of. */
export const MONTH_TO_DATE_STATUS_KIND = 'data_collection_status' satisfies RollupKind;

/** The days' data_collection_status parts, when some day has one (a day without has no rows of it). */
const statusParts = (days: readonly RollupManifest[]) => days.flatMap((m) => (m.parts.data_collection_status ? [m.parts.data_collection_status] : []));

/** Do these days' content rollups merge into one: some day has one, and every day with events has? */
const contentMerges = (days: readonly RollupManifest[]) =>
  days.some((m) => m.usage?.content) && days.every((m) => m.usage?.content || !m.parts.main_jobevent?.rows);

/**
 * The month-to-date merges that stand for exactly some of these day rollups: per month, the
 * merge recorded by its latest day's manifest, when the month's days among them are the very
 * days (and usage parts) it merged.
 */
export function monthToDateCovers(days: readonly RollupManifest[]): { last: RollupManifest; merged: MonthToDate; days: RollupManifest[] }[] {
  const byMonth = new Map<string, RollupManifest[]>();
  for (const m of days) {
    if (m.period !== 'day') continue;
    const month = m.date.slice(0, 7);
    byMonth.set(month, [...(byMonth.get(month) ?? []), m]);
  }
  const out: { last: RollupManifest; merged: MonthToDate; days: RollupManifest[] }[] = [];
  for (const ms of byMonth.values()) {
    // ISO dates order as strings; `localeCompare` would load ICU's collator first (5-8 ms a start).
    ms.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
    const last = ms.at(-1)!;
    const merged = last.monthToDate;
    const recorded = ms.map(dayOf);
    if (merged && recorded.every((d) => d !== undefined) && sameDays(merged.days, recorded as MonthToDateDay[])) out.push({ last, merged, days: ms });
  }
  return out;
}

/**
 * A stored part fetched and checked against its recorded size and SHA-256; undefined (released)
 * when it does not match. A part this run stored as recorded (`stored`) is read from the local
 * file it was stored from: the same bytes, neither fetched nor hashed again.
 */
async function fetchChecked(storage: Store, part: RollupManifestPart, stored?: ReadonlyMap<string, StoredPart>): Promise<LocalFile | undefined> {
  const mine = stored?.get(part.name);
  if (mine && mine.size === part.size && mine.sha256 === part.sha256) {
    const release = async () => {};
    return { path: mine.path, release, [Symbol.asyncDispose]: release };
  }
  let local: LocalFile;
  try {
    local = await storage.get(part.name);
  } catch {
    return undefined;
  }
  if ((await stat(local.path)).size === part.size && (await hashFile(local.path)) === part.sha256) return local;
  await local.release();
  return undefined;
}

/** Where `writeMonthsToDate` reads and writes: `dir` for its local files, `stored` the parts the calling rollup stored (see `fetchChecked`). */
export interface MonthToDateAt {
  storage: Store;
  prefix: string | undefined;
  dir: string;
  logger: Logger;
  stored?: ReadonlyMap<string, StoredPart> | undefined;
}

/**
 * Write the month-to-date merge of each month of `dates` (days just rolled up) at the month's
 * latest day rollup, and record it in that day's manifest. A month whose days do not merge
 * exactly gets none (its reports merge per day, or read the job grain).
 */
export async function writeMonthsToDate(db: TallyDuckDb, dates: readonly string[], at: MonthToDateAt): Promise<void> {
  const months = new Set(dates.map((d) => d.slice(0, 7)));
  for (const month of months) {
    const [window] = periodWindows(new Date(`${month}-01T00:00:00Z`), new Date(`${month}-02T00:00:00Z`), 'month');
    try {
      await writeMonthToDate(db, window!, at);
    } catch (err) {
      // A report then merges the days' own usage rollups: the rollup itself stands.
      at.logger.warn('month-to-date usage rollup not written', { month, error: errorMessage(err) });
    }
  }
}

async function writeMonthToDate(db: TallyDuckDb, month: PeriodWindow, at: MonthToDateAt): Promise<void> {
  const manifests: RollupManifest[] = [];
  for (const w of periodWindows(month.since, month.until, 'day')) {
    const m = await readManifest(at.storage, 'day', w.date, at.prefix);
    if (m) manifests.push(m);
  }
  const days = manifests.map(dayOf);
  if (manifests.length === 0 || days.some((d) => d === undefined)) return at.logger.debug('month-to-date usage not written: a day does not merge', { month: month.date });
  const recorded = days as MonthToDateDay[];
  const last = manifests.at(-1)!;
  // The latest merge that still matches its days: merged again with the days after it.
  const matching = (upTo: number) => manifests.slice(0, upTo).findLastIndex((m, i) => m.monthToDate !== undefined && sameDays(m.monthToDate.days, recorded.slice(0, i + 1)));
  let base = matching(manifests.length);
  const fetched: LocalFile[] = [];
  const storing = new Map<MonthToDatePart, Promise<RollupManifestPart>>();
  try {
    // Days rolled again into the same bytes leave the last day's merge current, unless its files are damaged (or it has no sheets).
    const content = contentMerges(manifests);
    const status = statusParts(manifests).length > 0;
    if (base === manifests.length - 1) {
      if (await intact(at.storage, last.monthToDate!, { content, status }, fetched)) return;
      base = matching(manifests.length - 1);
    }
    const files = await fetchInputs(at.storage, manifests, { base, content, stored: at.stored }, fetched);
    if (!files) return at.logger.warn('month-to-date usage not written: a usage rollup does not match its manifest', { month: month.date });
    if (files.base === undefined) base = -1;
    if (await usageRollupsOverlap(db, files.jobs)) return at.logger.debug('month-to-date usage not written: a job is in two days', { month: month.date });
    const local = Object.fromEntries(PARTS.map((p) => [p, join(at.dir, `mtd-${p}-${last.date}.parquet`)])) as Record<MonthToDatePart, string>;
    // Each part is stored (hashed, copied) as soon as it is written, while DuckDB writes the next.
    const rows = await mergeUsage(db, files, local, (which, n) => {
      const stored = storePart(at.storage, monthToDateName(which, last.date, at.prefix), local[which], n);
      stored.catch(() => {}); // awaited below, or settled in `finally` when a later statement fails
      storing.set(which, stored);
    });
    const part = (which: MonthToDatePart) => storing.get(which)!;
    const [hosts, jobs] = [await part('hosts'), await part('jobs')];
    const sheets = { hosts: await part('sheet_hosts'), orgs: await part('sheet_orgs') };
    const merged = rows.content === undefined ? {} : { content: await part('content') };
    const statusPart = rows.data_collection_status === undefined ? {} : { status: await part('data_collection_status') };
    const monthToDate: MonthToDate = { hosts, jobs, sheets, ...merged, ...statusPart, days: recorded, inputs: manifests.flatMap((m) => m.inputs) };
    await at.storage.put(manifestName('day', last.date, at.prefix), { dict: { ...last, monthToDate } });
    at.logger.debug('month-to-date usage written', { date: last.date, days: recorded.length, from: base < 0 ? 'days' : manifests[base]!.date, hosts: rows.hosts });
  } finally {
    await Promise.allSettled(storing.values());
    for (const f of fetched) await f.release();
  }
}

const PARTS: readonly MonthToDatePart[] = ['hosts', 'jobs', 'sheet_hosts', 'sheet_orgs', 'content', 'data_collection_status'];

/**
 * Do a merge's files (its sheets' too, its content merge when its days' content rollups merge and
 * its data_collection_status rows when its days have some: a merge written without them is
 * written again) still read as recorded?
 */
async function intact(storage: Store, merged: MonthToDate, want: { content: boolean; status: boolean }, fetched: LocalFile[]): Promise<boolean> {
  if (!merged.sheets || (want.content && !merged.content) || (want.status && !merged.status)) return false;
  const optional = [merged.content, merged.status].filter((p) => p !== undefined);
  for (const part of [merged.hosts, merged.jobs, merged.sheets.hosts, merged.sheets.orgs, ...optional]) {
    const local = await fetchChecked(storage, part);
    if (!local) return false;
    fetched.push(local);
  }
  return true;
}

interface MergeInputs {
  base?: number;
  hosts: string[];
  jobs: string[];
  /** With `content`: the content rollups to merge. */
  content?: string[];
  /** Every day's data_collection_status part (always the days': they are a few rows each). */
  status: string[];
}

/**
 * The files to merge: the merge recorded at `base` (when it still reads as recorded, and with
 * `content` has the content merge of its days if they had content rollups) and the usage (and
 * content) parts of the days after it, else every day's. Undefined when a part does not match.
 */
async function fetchInputs(
  storage: Store,
  manifests: readonly RollupManifest[],
  at: { base: number; content: boolean; stored: ReadonlyMap<string, StoredPart> | undefined },
  fetched: LocalFile[],
): Promise<MergeInputs | undefined> {
  const get = async (part: RollupManifestPart) => {
    const local = await fetchChecked(storage, part, at.stored);
    if (local) fetched.push(local);
    return local?.path;
  };
  const out: MergeInputs = { hosts: [], jobs: [], status: [], ...(at.content ? { content: [] } : {}) };
  let from = 0;
  const merged = at.base >= 0 ? manifests[at.base]!.monthToDate! : undefined;
  const lacksContent = (m: MonthToDate) => at.content && !m.content && manifests.slice(0, at.base + 1).some((d) => d.usage?.content);
  if (merged && !lacksContent(merged)) {
    const [h, j, c] = [await get(merged.hosts), await get(merged.jobs), at.content && merged.content ? await get(merged.content) : null];
    if (h && j && c !== undefined) {
      out.base = at.base;
      out.hosts.push(h);
      out.jobs.push(j);
      if (c) out.content!.push(c);
      from = at.base + 1;
    }
  }
  for (const m of manifests.slice(from)) {
    const [h, j, c] = [await get(m.usage!.hosts), await get(m.usage!.jobs), at.content && m.usage!.content ? await get(m.usage!.content) : null];
    if (!h || !j || c === undefined) return undefined;
    out.hosts.push(h);
    out.jobs.push(j);
    if (c) out.content!.push(c);
  }
  for (const part of statusParts(manifests)) {
    const s = await get(part);
    if (!s) return undefined;
    out.status.push(s);
  }
  return out;
}

/**
 * The days' usage tables merged (as the report merges them) into files of the day parts' schema,
 * the usage sheets' rows of that merge (as the report's queries aggregate its usage tables), and
 * with `content` the days' content rollups merged into one. `written` is told each file as soon
 * as it is complete.
 */
async function mergeUsage(
  db: TallyDuckDb,
  files: MergeInputs,
  out: Record<MonthToDatePart, string>,
  written: (which: MonthToDatePart, rows: number) => void,
): Promise<Partial<Record<MonthToDatePart, number>>> {
  const read = (list: readonly string[]) => `read_parquet([${list.map(literal).join(', ')}], hive_partitioning = false)`;
  const rows: Partial<Record<MonthToDatePart, number>> = {};
  const copy = async (which: MonthToDatePart, write: Promise<number>) => {
    const n = await write;
    rows[which] = n;
    written(which, n);
  };
  await copy(
    'hosts',
    db.run(
      `COPY (SELECT o, t, h, CAST(n AS BIGINT) AS n, tr, f, l, jc_first, jc_last FROM (${mergedUsageHosts(read(files.hosts))}))
         TO ${literal(out.hosts)} (${PARQUET_V2})`,
    ),
  );
  // No job is in two of them: the jobs files are concatenated.
  await copy('jobs', db.run(`COPY (SELECT o, t, u, j, direct FROM ${read(files.jobs)}) TO ${literal(out.jobs)} (${PARQUET_V2})`));
  const [merged, mergedJobs] = [read([out.hosts]), `(${directJobs(read([out.jobs]))})`];
  await copy('sheet_hosts', db.run(`COPY (${hostTotalsSelect(merged)}) TO ${literal(out.sheet_hosts)} (${PARQUET_V2})`));
  await copy('sheet_orgs', db.run(`COPY (${orgTotalsSelect(merged, mergedJobs)}) TO ${literal(out.sheet_orgs)} (${PARQUET_V2})`));
  if (files.content?.length) await copy('content', mergeContentRollups(db, files.content, out.content));
  if (files.status.length) await copy('data_collection_status', mergeStatus(db, files.status, out.data_collection_status));
  return rows;
}

/** The days' data_collection_status parts' rows in one file, read as a report adds a part (`addParquetFiles`); returns its rows. */
async function mergeStatus(db: TallyDuckDb, files: readonly string[], out: string): Promise<number> {
  const status = new DataCollectionStatus(db);
  try {
    await status.addParquetFiles(files);
    return await db.run(`COPY (SELECT * FROM ${ident(status.stagingTable)}) TO ${literal(out)} (${PARQUET_V2})`);
  } finally {
    await status.drop();
  }
}
