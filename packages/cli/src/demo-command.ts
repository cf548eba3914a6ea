import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError, createLogger, errorMessage, type TallyConfig, TallyError, thisDay } from '@tally/core';
import { DirectoryStorage } from '@tally/storage';
import pg from 'pg';
import { connectDatabase, describeDatabaseUrl } from './db-connection.js';
import { invokeGather } from './gather-command.js';
import { type CliIO, cliLogger, isInteractive } from './io.js';
import { formatBytes, logProgress, ttyProgress } from './progress.js';
import { runReport } from './report-command.js';
import { invokeRollup } from './rollup-command.js';

export interface DemoOptions {
  dir?: string;
  days: number;
}

const MARKER = '.tally-demo';

type DemoModule = typeof import('@tally/demo');

/**
 * PGlite and the synthetic controller live in @tally/demo, an optional dependency: `npx @tally/cli demo`
 * gets it, and `npm install --omit=optional @tally/cli` leaves out the 28 MB database only the demo needs.
 */
async function loadDemo(): Promise<DemoModule> {
  try {
    return await import('@tally/demo');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' || !String((err as Error).message).includes('@tally/demo')) throw err;
    throw new ConfigError('tally demo needs the @tally/demo package (PGlite and a synthetic controller): npm install @tally/demo (it was left out: --omit=optional)', {
      field: 'demo',
    });
  }
}

/** Empty a directory the demo made before (or a new/empty one); refuse to touch anything else. */
async function prepareDir(dir: string): Promise<void> {
  if (existsSync(dir)) {
    const entries = await readdir(dir);
    if (entries.length && !entries.includes(MARKER)) {
      throw new ConfigError(`demo: ${dir} is not empty and was not made by the demo; pass --dir with a new or empty directory`, { field: 'dir' });
    }
    for (const e of entries) await rm(join(dir, e), { recursive: true, force: true });
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, MARKER), 'made by `tally demo`; the next demo run empties this directory\n');
}

/** Whether the database already holds controller tables (a real or previously seeded controller). */
async function hasControllerTables(url: string): Promise<boolean> {
  const c = await connectDatabase(url, 'tally demo');
  try {
    const { rows } = await c.query<{ t: string | null }>("SELECT to_regclass('main_jobhostsummary')::text AS t");
    return Boolean(rows[0]?.t);
  } finally {
    await c.end().catch(() => {});
  }
}

/**
 * `tally demo`: the whole pipeline on an embedded PostgreSQL (or DATABASE_URL):
 * schema and synthetic controller, gather + ship to a directory, rollups, and the
 * CCSPv2 and Renewal Guidance workbooks; prints where every artifact is.
 */
export async function demoCommand(opts: DemoOptions, io: CliIO): Promise<void> {
  const started = Date.now();
  const dir = resolve(io.cwd, opts.dir ?? join('.tally', 'demo'));
  const interactive = isInteractive(io);
  const logger = cliLogger(io, { command: 'demo' });
  const say = (msg: string) => (interactive ? io.stderr.write(`${msg}\n`) : logger.info(msg));
  const secs = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
  await prepareDir(dir);

  let embedded: Awaited<ReturnType<DemoModule['startEmbeddedPostgres']>> | undefined;
  let url = io.env.DATABASE_URL;
  try {
    const demo = await loadDemo();
    // The synthetic history ends at the last UTC midnight, so every day is whole.
    const end = thisDay(new Date());
    const window = { since: new Date(end.getTime() - opts.days * 86_400_000), until: end };
    const seedOpts = { days: opts.days, jobsPerDay: 24, hosts: 120, orgs: 3, seed: 42, end, hostsPerJob: 12, eventsPerSummary: 1 };
    if (!url) {
      say('starting an embedded PostgreSQL (PGlite) …');
      embedded = await demo.startEmbeddedPostgres();
      url = embedded.url;
      await demo.applyControllerSchema(embedded.db);
      say(`seeding a synthetic controller: ${opts.days} days …`);
      const s = await demo.seedController(embedded.db, seedOpts);
      say(`  ${s.hosts} hosts, ${s.jobs} jobs, ${s.jobHostSummaries} job host summaries, ${s.jobEvents} events (${secs()})`);
    } else if (!(await hasControllerTables(url))) {
      say(`seeding a synthetic controller into ${describeDatabaseUrl(url)} …`);
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await demo.applyControllerSchema(c);
        await demo.seedController(c, seedOpts);
      } finally {
        await c.end();
      }
    } else {
      say(`using the controller database at ${describeDatabaseUrl(url)} as it is (not seeded)`);
    }

    const cfg: TallyConfig = {
      shipTarget: 'directory',
      shipPath: dir,
      maxGatherPeriodDays: opts.days + 1,
      optionalCollectors: ['main_jobevent', 'main_host', 'main_host_daily'],
    };
    const storage = new DirectoryStorage({ base: dir });

    say(`gathering ${window.since.toISOString().slice(0, 10)} … ${window.until.toISOString().slice(0, 10)} into ${dir} …`);
    const progress = interactive ? ttyProgress(io.stderr) : logProgress(logger);
    const gathered = await invokeGather({
      cfg,
      dbUrl: url,
      since: window.since,
      until: window.until,
      mode: 'ship',
      io,
      logger,
      progress,
      storage,
      countRows: true,
    });
    if (gathered.failures.length) {
      const f = gathered.failures[0]!;
      throw new TallyError(`demo: gather failed: ${f.collector ?? f.tarball ?? ''}: ${f.error}`);
    }
    const bytes = gathered.result.tarballs.reduce((n, t) => n + t.bytes, 0);
    say(`  ${gathered.result.tarballs.length} tarballs, ${formatBytes(bytes)}, ${progress.totals.rows.toLocaleString('en-US')} rows (${secs()})`);

    say('rolling up …');
    // On a terminal the summary lines say enough; the per-file lines stay in the JSON log.
    const quiet = interactive ? createLogger({ stream: io.stderr, level: 'warn' }) : logger;
    const rolled = await invokeRollup(storage, { ...window, period: 'month', countUnreachableHosts: cfg.countUnreachableHosts ?? false }, io, quiet);
    say(`  ${rolled.parts.length} Parquet files (${secs()})`);

    const reports: string[] = [];
    for (const reportType of ['CCSPv2', 'RENEWAL_GUIDANCE'] as const) {
      say(`building the ${reportType} workbook …`);
      const rcfg: TallyConfig = {
        ...cfg,
        shipTarget: reportType === 'RENEWAL_GUIDANCE' ? 'controller_db' : 'directory',
        reportType,
        databaseUrl: url,
        reportCompanyName: 'Example Corp (demo)',
        reportEmail: 'billing@example.com',
        reportSku: 'MCT4022',
        pricePerNode: 1,
      };
      // The report's own "generated into" line is left to the summary below.
      const out = await runReport(rcfg, { since: window.since, until: window.until, force: true, logger: quiet, db: url, env: io.env });
      if (out.path) reports.push(out.path);
    }

    io.stdout.write(
      [
        '',
        `Tally demo finished in ${secs()}. Artifacts in ${dir}:`,
        `  tarballs   ${join(dir, 'data')}/ (${gathered.result.tarballs.length} files)`,
        `  rollups    ${join(dir, 'rollups')}/ (${rolled.parts.length} Parquet files)`,
        ...reports.map((r) => `  report     ${r}`),
        '',
        'Next: pnpm -s tally --help',
        '',
      ].join('\n'),
    );
  } catch (err) {
    throw err instanceof TallyError ? err : new TallyError(`demo: ${errorMessage(err)}`, { cause: err });
  } finally {
    await embedded?.stop().catch(() => {});
  }
}
