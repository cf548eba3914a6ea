import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Collector, CollectorParams, CollectorResult } from '@tally/collectors';
import {
  advisoryLock,
  type ClusterLock,
  CollectorError,
  ConfigError,
  DEFAULT_MAX_DATA_SIZE,
  LockedError,
  type Logger,
  type Queryable,
  type TallyConfig,
  errorMessage,
  parseSize,
  parseTarballStamp,
  pythonJson,
  silentLogger,
  tarballStamp,
  tempdir,
} from '@tally/core';
import {
  type Bundle,
  type DataMember,
  FirstFitPacker,
  type PackItem,
  type StatusEntry,
  splitCsvFile,
  tarballName,
  tarballStorageName,
  writeTarball,
} from '@tally/package';
import { DirectoryStorage, type Sink, type Store, isStore } from '@tally/storage';
import type pg from 'pg';
import { dropSecretKeys, safeBillingParams, scrubMessage } from './config-doc.js';
import { selectCollectors } from './select.js';
import type { StateStore } from './state.js';
import { PostgresStateStore } from './state-postgres.js';
import { DEFAULT_MAX_GATHER_PERIOD_DAYS, resolveWindow, sliceWindow } from './window.js';

/** The advisory lock one gather per cluster holds (plus `_{METRICS_UTILITY_COLLECTOR_LOCK_SUFFIX}`). */
export const GATHER_LOCK = 'tally_gather';

export type GatherConfig = Pick<
  TallyConfig,
  'maxGatherPeriodDays' | 'optionalCollectors' | 'disableJobHostSummary' | 'disableSaveLastGatheredEntries' | 'collectorLockSuffix' | 'maxDataSize'
>;

export interface GatherOptions {
  /** The controller database: collectors read it and the cluster lock is taken on it. */
  db: pg.ClientBase;
  /** Collectors in declaration order; exactly one must be the config collector. */
  collectors: readonly Collector[];
  /**
   * Where tarballs are shipped: any Sink. When it is also a Store, a delivery left by an
   * interrupted run is found and replaced. Not used by a dry run, which ships to a local
   * directory (`outputDir`) instead.
   */
  storage?: Sink;
  /** Watermarks and status; default a PostgresStateStore on `db` (a dry run only reads it, and never creates it). */
  stateStore?: StateStore;
  /** Tarball name prefix; default the config document's `install_uuid`. */
  installUuid?: string;
  since?: Date;
  until?: Date;
  /** "Now", for tests; default the wall clock. */
  now?: Date;
  /** Build tarballs and ship them to a local directory only (`outputDir`); write no state, take no lock, move no watermark. */
  dryRun?: boolean;
  /** The dry run's directory store: tarballs land at `{outputDir}/data/YYYY/MM/DD/…` (default a new `tally-dry-run-*` directory under the OS temp dir). */
  outputDir?: string;
  /** Uncompressed data bytes per tarball and CSV split threshold: a number or `100M` (default 200 MiB). */
  maxSize?: number | string;
  /** gzip level 0–9 (default 6). */
  gzipLevel?: number;
  /** Values from loadConfig(); gather never reads the environment itself. */
  config?: GatherConfig;
  /** Billing parameters for config.json; only fields safe to persist are kept. */
  billingProviderParams?: Record<string, unknown>;
  /** Extra parameters handed to every collector (e.g. prometheus settings). */
  collectorParams?: Record<string, unknown>;
  /**
   * Where the cluster lock is taken (default `db`). Advisory locks are per session:
   * two gathers sharing one connection do not exclude each other.
   */
  lockDb?: Queryable;
  /** The cluster lock itself, e.g. a fileLock() beside a state file (default an advisory lock on `lockDb`). */
  lock?: ClusterLock;
  /** Parent directory of the run's private work directory (default the OS temp dir); removed at the end. */
  tempDir?: string;
  logger?: Logger;
}

export interface GatheredTarball {
  /** Storage name `data/YYYY/MM/DD/{uuid}-{since}-{until}-{index}.tar.gz`. */
  name: string;
  /** Local file (dry-run only; shipped tarballs are deleted locally). */
  path?: string;
  since: Date;
  until: Date;
  members: string[];
  bytes: number;
}

export interface GatherFailure {
  key?: string;
  tarball?: string;
  stage: 'collect' | 'package' | 'upload';
  error: string;
}

export interface GatherResult {
  dryRun: boolean;
  since?: Date;
  until: Date;
  /** Tarballs that exist: in storage (ship) or on disk (dry-run). */
  tarballs: GatheredTarball[];
  /** Dry-run: the directory holding the tarballs. */
  outputDir?: string;
  failures: GatherFailure[];
  /** Watermarks after the run, key → ISO instant. */
  watermarks: Record<string, string>;
  /** No collector or upload failed. */
  ok: boolean;
}

interface SliceRec {
  key: string;
  since: Date;
  until: Date;
  /** A sliced CSV part: its tarball ships at once and is named after it. */
  immediate: boolean;
  /** The key's first slice in this run (starts at its watermark). */
  first: boolean;
  /** Starts where the stored watermark ends (or where the horizon forces it to). */
  chained: boolean;
  /** Where the watermark moves once delivered, when not `until`: a snapshot slice covers its whole window. */
  mark?: Date;
  ok?: boolean;
  /** Parts not yet delivered. */
  pending: number;
  deliveryFailed: boolean;
}

interface Part extends PackItem {
  member: DataMember;
  status: StatusEntry;
  slice: SliceRec;
  file?: string;
}

/**
 * The index in a tarball name: the head key's stable number (FNV-1a of the key,
 * mod 100000) × 10000 + its part ordinal in that window. It depends only on
 * (window, key, part), never on what else ran or what a directory holds, so a
 * re-sent window overwrites its earlier delivery and never another key's.
 */
export function tarballIndex(key: string, part: number): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return (h % 100_000) * 10_000 + part;
}

const later = (a: Date, b: Date) => (a.getTime() >= b.getTime() ? a : b);
const earlier = (a: Date, b: Date) => (a.getTime() <= b.getTime() ? a : b);

/**
 * Run the collectors over their windows, pack their output into tarballs and
 * ship them, advancing each key's watermark only over slices that were both
 * collected and delivered. One gather per cluster: a second one fails at once
 * with LockedError.
 */
export async function gather(opts: GatherOptions): Promise<GatherResult> {
  const log = opts.logger ?? silentLogger;
  const cfg = opts.config ?? {};
  const maxSize = parseSize(opts.maxSize ?? cfg.maxDataSize ?? DEFAULT_MAX_DATA_SIZE, 'maxSize');
  const configCollectors = opts.collectors.filter((c) => c.meta.config);
  if (configCollectors.length === 0) {
    const keys = opts.collectors.map((c) => c.meta.key).join(', ') || 'none';
    throw new ConfigError(`gather needs the config collector (meta.config), which writes config.json into every tarball; got: ${keys}`, {
      field: 'collectors',
    });
  }
  if (configCollectors.length > 1) {
    throw new ConfigError(`gather needs exactly one config collector; got ${configCollectors.map((c) => c.meta.key).join(', ')}`, {
      field: 'collectors',
    });
  }
  const seen = new Set<string>();
  for (const c of opts.collectors) {
    if (seen.has(c.meta.key)) throw new ConfigError(`collector key ${c.meta.key} appears twice; keys name tarball members and watermarks`, { field: 'collectors' });
    seen.add(c.meta.key);
  }
  if (!opts.dryRun && !opts.storage) throw new ConfigError('gather needs a storage to ship to (or dryRun)', { field: 'storage' });
  const data = selectCollectors(opts.collectors, { ...cfg, logger: log });
  const win = resolveWindow({ since: opts.since, until: opts.until, now: opts.now ?? new Date(), maxDays: cfg.maxGatherPeriodDays, logger: log });

  const lockKey = cfg.collectorLockSuffix ? `${GATHER_LOCK}_${cfg.collectorLockSuffix}` : GATHER_LOCK;
  // A dry run records nothing, so it needs no lock (and a lock file would be a write).
  const clusterLock = opts.lock ?? advisoryLock(opts.lockDb ?? opts.db);
  const held = opts.dryRun ? undefined : await clusterLock.acquire(lockKey);
  if (!opts.dryRun && !held) {
    throw new LockedError(
      `another gather is running on this cluster (${clusterLock.describe(lockKey)} is held); only one gather runs at a time — try again when it has finished`,
    );
  }
  try {
    const work = await tempdir('tally-gather', opts.tempDir);
    try {
      return await new Run(opts, log, maxSize, win, work.path).run(configCollectors[0]!, data);
    } finally {
      await work.remove();
    }
  } finally {
    // A dead connection has already dropped the lock; do not hide the run's own error behind that.
    await held?.release().catch((err) => log.warn(`releasing lock ${lockKey} failed: ${errorMessage(err)}`));
  }
}

class Run {
  private readonly store: StateStore;
  private readonly dryRun: boolean;
  /** METRICS_UTILITY_DISABLE_SAVE_LAST_GATHERED_ENTRIES: ship, record run status, move no watermark. */
  private readonly keepWatermarks: boolean;
  private marks = new Map<string, Date>();
  private readonly slices = new Map<string, SliceRec[]>();
  private readonly failedRows = new Map<string, StatusEntry[]>();
  private readonly nameCounts = new Map<string, number>();
  private readonly errors = new Map<string, string>();
  private readonly blocked = new Set<string>();
  private readonly tarballs: GatheredTarball[] = [];
  private readonly failures: GatherFailure[] = [];
  private readonly packer: FirstFitPacker<Part>;
  /** Where tarballs go: the caller's sink, or the dry run's directory. */
  private sink!: Sink;
  /** The dry run's local store. */
  private dryDir: DirectoryStorage | undefined;
  /** The sink, when it can also be listed: only then are earlier deliveries looked for. */
  private deliveries: Store | undefined;
  /** Where tarballs are written before they are put. */
  private outDir = '';
  private installUuid = '';
  private configText = '';
  private configVersion = '1.0';

  constructor(
    private readonly opts: GatherOptions,
    private readonly log: Logger,
    private readonly maxSize: number,
    private readonly win: ReturnType<typeof resolveWindow>,
    private readonly work: string,
  ) {
    this.store = opts.stateStore ?? new PostgresStateStore(opts.db);
    this.dryRun = opts.dryRun ?? false;
    this.keepWatermarks = opts.config?.disableSaveLastGatheredEntries ?? false;
    this.packer = new FirstFitPacker<Part>(maxSize);
  }

  async run(configCollector: Collector, data: Collector[]): Promise<GatherResult> {
    // Before anything is collected, so a store that cannot be written stops the run at once.
    if (!this.dryRun) await this.store.init();
    this.marks = await this.store.watermarks();
    if (this.keepWatermarks && !this.dryRun) {
      this.log.info('METRICS_UTILITY_DISABLE_SAVE_LAST_GATHERED_ENTRIES is set: this run ships but leaves every watermark as it is');
    }
    this.outDir = join(this.work, 'out');
    if (this.dryRun) this.dryDir = new DirectoryStorage({ base: this.opts.outputDir ?? (await mkdtemp(join(tmpdir(), 'tally-dry-run-'))) });
    this.sink = this.dryDir ?? this.opts.storage!;
    this.deliveries = !this.dryRun && isStore(this.sink) ? this.sink : undefined;
    await this.gatherConfig(configCollector);

    // JSON collections first so they ride in the first tarball of their group; then CSV, each in declaration order.
    const ordered = [...data.filter((c) => c.meta.format === 'json'), ...data.filter((c) => c.meta.format !== 'json')];
    for (const c of ordered) await this.gatherCollector(c);
    for (const b of this.packer.open()) await this.ship(b);
    // Failures no data tarball could carry still get their status rows delivered, in a tarball of their own.
    for (const [group, rows] of [...this.failedRows]) {
      if (rows.length) await this.ship({ seq: -1, group, items: [], total: 0, closed: true });
    }

    if (!this.dryRun) {
      await this.advance([...this.slices.keys()]);
      const at = new Date();
      for (const key of [configCollector.meta.key, ...data.map((c) => c.meta.key)]) {
        const error = this.errors.get(key);
        await this.store.recordRun(key, error === undefined ? { at, ok: true } : { at, ok: false, error });
      }
    }
    const result: GatherResult = {
      dryRun: this.dryRun,
      until: this.win.until,
      tarballs: this.tarballs,
      failures: this.failures,
      watermarks: Object.fromEntries([...this.marks].map(([k, v]) => [k, v.toISOString()])),
      ok: this.failures.length === 0,
    };
    if (this.win.since) result.since = this.win.since;
    if (this.dryDir) {
      result.outputDir = this.dryDir.base;
      this.log.info(`dry run: ${this.tarballs.length} tarball(s) kept in ${this.dryDir.base}, nothing shipped`, {
        files: this.tarballs.map((t) => t.path),
      });
    } else {
      this.log.info(`gather shipped ${this.tarballs.length} tarball(s) to ${this.sink.backend}`, {
        failures: this.failures.length,
      });
    }
    return result;
  }

  private noteError(key: string, error: string): void {
    if (!this.errors.has(key)) this.errors.set(key, error);
  }

  private async gatherConfig(c: Collector): Promise<void> {
    const key = c.meta.key;
    const billing = safeBillingParams(this.opts.billingProviderParams);
    let doc: Record<string, unknown>;
    try {
      const res = await c({ ...this.opts.collectorParams, db: this.opts.db, billingProviderParams: billing, logger: this.log.child({ collector: key }) }).gather();
      if (res.format !== 'json' || !res.data || typeof res.data !== 'object') {
        throw new CollectorError(key, 'returned no JSON document; config.json is required in every tarball');
      }
      doc = res.data;
    } catch (err) {
      const msg = scrubMessage(errorMessage(err));
      if (!this.dryRun) await this.store.recordRun(key, { at: new Date(), ok: false, error: msg });
      throw err instanceof CollectorError ? err : new CollectorError(key, `failed, so nothing can be gathered: ${msg}`, { cause: err });
    }
    const safe = dropSecretKeys({ ...doc, billing_provider_params: billing }) as Record<string, unknown>;
    this.configText = pythonJson(safe);
    this.configVersion = c.meta.version;
    this.installUuid = this.opts.installUuid ?? (typeof doc.install_uuid === 'string' ? doc.install_uuid : '');
    if (!this.installUuid) throw new ConfigError('gather needs installUuid: none given and config has no install_uuid', { field: 'installUuid' });
  }

  private async gatherCollector(c: Collector): Promise<void> {
    const meta = c.meta;
    const key = meta.key;
    const group = meta.shippingGroup ?? 'default';
    const wm = this.marks.get(key);
    const { since, until, horizon } = this.win;
    const start = since ?? (wm ? later(wm, horizon) : horizon);
    const chained = since ? !wm || since.getTime() <= wm.getTime() : true;
    if (!since && wm && wm.getTime() < horizon.getTime()) {
      this.log.warn(
        `${key}: last gathered ${wm.toISOString()}, before the ${this.opts.config?.maxGatherPeriodDays ?? DEFAULT_MAX_GATHER_PERIOD_DAYS}-day horizon; gathering from ${horizon.toISOString()} (older data is not gathered)`,
      );
    }
    if (since && !chained) {
      this.log.info(`${key}: ${since.toISOString()} is after its watermark ${wm!.toISOString()}; this window will not move the watermark`);
    }
    const windows = meta.slicing
      ? sliceWindow(meta.slicing, { since: start, until })
      : [{ since: earlier(start, until), until }];
    const list: SliceRec[] = [];
    this.slices.set(key, list);
    if (windows.length === 0) {
      this.log.info(`${key}: up to date (gathered until ${start.toISOString()})`);
      return;
    }
    const fileName = `${key}.${meta.format}`;
    for (let i = 0; i < windows.length; i++) {
      const w = windows[i]!;
      if (this.blocked.has(key)) {
        this.log.warn(`${key}: ${windows.length - i} later slice(s) left for the next run after an upload failure`);
        return;
      }
      const rec: SliceRec = { key, since: w.since, until: w.until, immediate: Boolean(meta.slicing) && meta.format === 'csv', first: i === 0, chained, pending: 0, deliveryFailed: false };
      if (meta.slicing === 'limit') rec.mark = until;
      list.push(rec);
      const startedAt = new Date();
      const outputDir = join(this.work, 'stage', `${key}-${i}`);
      let result: CollectorResult;
      try {
        await mkdir(outputDir, { recursive: true, mode: 0o700 });
        const params: CollectorParams = {
          ...this.opts.collectorParams,
          db: this.opts.db,
          outputDir,
          maxFileSize: this.maxSize,
          logger: this.log.child({ collector: key }),
        };
        if (meta.slicing) {
          params.since = w.since;
          params.until = w.until;
        }
        result = await c(params).gather();
        if (result?.format !== meta.format) {
          throw new CollectorError(key, `returned ${String(result?.format)} output; its meta says ${meta.format}`);
        }
      } catch (err) {
        const msg = scrubMessage(errorMessage(err));
        rec.ok = false;
        this.failures.push({ key, stage: 'collect', error: msg });
        this.noteError(key, msg);
        this.log.error(`collector ${key} failed for ${w.since.toISOString()} – ${w.until.toISOString()}: ${msg}`);
        const rows = this.failedRows.get(group) ?? [];
        rows.push({ fileName, status: 'failed', startedAt, finishedAt: new Date(), since: w.since, until: w.until });
        this.failedRows.set(group, rows);
        // Later slices could not move the watermark past this one: leave them for the next run.
        if (i + 1 < windows.length) this.log.warn(`${key}: ${windows.length - i - 1} later slice(s) left for the next run`);
        return;
      }
      const status: StatusEntry = { fileName, status: 'ok', startedAt, finishedAt: new Date(), since: w.since, until: w.until };
      if (result.format === 'json') {
        rec.ok = true;
        if (result.data === null) continue;
        const text = pythonJson(result.data);
        rec.pending = 1;
        this.packer.add({
          key,
          group,
          size: Buffer.byteLength(text),
          member: { key, format: 'json', version: meta.version, source: { text } },
          status,
          slice: rec,
        });
        continue;
      }
      if (result.skipped) {
        rec.ok = true;
        this.log.warn(`${key}: skipped: ${result.skipped}`);
        continue;
      }
      let files: string[];
      try {
        files = await this.fitFiles(result.files);
      } catch (err) {
        rec.ok = false;
        const msg = scrubMessage(errorMessage(err));
        this.failures.push({ key, stage: 'package', error: msg });
        this.noteError(key, msg);
        this.log.error(`${key}: could not split its output for ${w.since.toISOString()} – ${w.until.toISOString()}: ${msg}`);
        return;
      }
      const sizes = await Promise.all(files.map(async (f) => (await stat(f)).size));
      rec.ok = true;
      rec.pending = files.length;
      for (let p = 0; p < files.length; p++) {
        const file = files[p]!;
        const bundle = this.packer.add({
          key,
          group,
          size: sizes[p]!,
          member: { key, format: 'csv', version: meta.version, source: { file } },
          status,
          slice: rec,
          file,
        });
        // Sliced data ships slice by slice, so its temp files go before the next slice is made.
        if (meta.slicing) await this.ship(bundle);
      }
    }
  }

  /** CSV files over the tarball budget are cut between records into parts that fit. */
  private async fitFiles(files: readonly string[]): Promise<string[]> {
    const out: string[] = [];
    for (const f of files) {
      const parts = await splitCsvFile(f, this.maxSize);
      if (parts.length > 1 || parts[0] !== f) {
        this.log.info(`${f} is over ${this.maxSize} bytes: split into ${parts.length} parts`);
        await rm(f, { force: true });
      }
      out.push(...parts);
    }
    return out;
  }

  private async ship(bundle: Bundle<Part>): Promise<void> {
    bundle.closed = true;
    const failedRows = this.failedRows.get(bundle.group) ?? [];
    // Named after its first sliced part: a window always maps to the same name, so re-delivery overwrites.
    const first = bundle.items.find((p) => p.slice.immediate) ?? bundle.items[0];
    const head = first ? { ...first.slice } : failedRows[0] && { ...failedRows[0], key: failedRows[0].fileName.replace(/\.\w+$/, '') };
    if (!head?.since || !head.until) return;
    const stamp = `${tarballStamp(head.since)}-${tarballStamp(head.until)}|${head.key}`;
    const n = this.nameCounts.get(stamp) ?? 0;
    this.nameCounts.set(stamp, n + 1);
    const base = tarballName(this.installUuid, head.since, head.until, tarballIndex(head.key, n));
    const name = tarballStorageName(base, head.since);
    const local = join(this.outDir, base);
    const status = [...bundle.items.map((p) => p.status), ...failedRows];
    this.failedRows.delete(bundle.group);
    const keys = [...new Set(bundle.items.map((p) => p.key))];
    const fail = (stage: GatherFailure['stage'], err: unknown) => {
      const msg = scrubMessage(errorMessage(err));
      this.failures.push({ tarball: name, stage, error: msg });
      for (const p of bundle.items) {
        p.slice.deliveryFailed = true;
        this.blocked.add(p.key);
      }
      for (const k of keys) this.noteError(k, `${stage} of ${name} failed: ${msg}`);
      this.log.error(`${stage} of ${name} failed: ${msg}`, { keys });
    };
    try {
      let written: Awaited<ReturnType<typeof writeTarball>>;
      try {
        written = await writeTarball(
          local,
          { members: bundle.items.map((p) => p.member), config: { version: this.configVersion, source: { text: this.configText } }, status },
          { mtime: this.win.until, gzipLevel: this.opts.gzipLevel },
        );
      } catch (err) {
        fail('package', err);
        return;
      }
      const entry: GatheredTarball = { name, since: head.since, until: head.until, members: written.members, bytes: written.bytes };
      try {
        await this.sink.put(name, { filename: local });
      } catch (err) {
        fail('upload', err);
        return;
      } finally {
        await rm(local, { force: true });
      }
      if (this.dryDir) {
        const path = join(this.dryDir.base, name);
        this.tarballs.push({ ...entry, path });
        this.log.info(`dry run: wrote ${path}`);
        return;
      }
      this.tarballs.push(entry);
      this.log.info(`shipped ${name}`, { members: written.members, bytes: written.bytes });
      for (const p of bundle.items) p.slice.pending--;
      await this.advance(keys);
      if (first?.slice.first && this.deliveries) await this.removeSuperseded(this.deliveries, name, head.since, head.until);
    } finally {
      await Promise.all(bundle.items.map((p) => (p.file ? rm(p.file, { force: true }) : undefined)));
    }
  }

  /**
   * A run killed between an upload and its watermark update leaves a delivered
   * tarball the state does not know. Its window started where this key's first
   * slice starts now, but ended at that run's "now": a different name. This
   * delivery covers it (same start, later end, same key and part), so the
   * earlier one is removed rather than left as a duplicate.
   */
  private async removeSuperseded(store: Store, name: string, since: Date, until: Date): Promise<void> {
    const slash = name.lastIndexOf('/');
    const file = name.slice(slash + 1);
    const prefix = `${this.installUuid}-${tarballStamp(since)}-`;
    const index = file.slice(file.lastIndexOf('-'));
    try {
      for (const other of await store.glob(`${name.slice(0, slash + 1)}${prefix}*${index}`)) {
        if (other === name) continue;
        const end = parseTarballStamp(other.slice(other.lastIndexOf('/') + 1 + prefix.length));
        if (!end || end.getTime() >= until.getTime()) continue;
        await store.remove(other);
        this.log.warn(`removed ${other}: delivered by an interrupted run and covered by ${name}`);
      }
    } catch (err) {
      this.log.warn(`could not look for earlier deliveries of ${name}: ${scrubMessage(errorMessage(err))}`);
    }
  }

  /** Move each key's watermark over the contiguous prefix of slices collected and delivered; one atomic write. */
  private async advance(keys: string[]): Promise<void> {
    if (this.dryRun || this.keepWatermarks) return;
    const updates = new Map<string, Date>();
    for (const key of keys) {
      let mark: Date | undefined;
      for (const s of this.slices.get(key) ?? []) {
        if (!s.chained || s.ok !== true || s.pending > 0 || s.deliveryFailed) break;
        mark = s.mark ?? s.until;
      }
      const current = this.marks.get(key);
      if (mark && (!current || mark.getTime() > current.getTime())) updates.set(key, mark);
    }
    if (updates.size === 0) return;
    await this.store.advance(updates);
    for (const [k, v] of updates) this.marks.set(k, v);
  }
}
