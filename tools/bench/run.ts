/**
 * `pnpm bench`: measure each pipeline stage beside its physical floor and write BENCHMARKS.md.
 *   pnpm bench            full scale: 1M job_host_summary rows gathered, 30 × 200k rows rolled up and reported
 *   pnpm bench --smoke    a few thousand rows; checks every stage runs (used by the test suite), writes nothing
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { dailySlices } from '@tally/core';
import { findOrStartPostgres } from '@tally/testkit';
import { applyControllerSchema, seedController } from '@tally/demo';
import { generateTarballs } from './gen-tarballs.js';
import { writeMainHostTarball } from './stage-ccsp-dedup.js';
import { fmt, type Measurement, measure, measureRuns } from './measure.js';
import { connect, pg } from './pg.js';

const { values } = parseArgs({
  options: { smoke: { type: 'boolean', default: false }, keep: { type: 'boolean', default: false }, stages: { type: 'string' } },
});
const smoke = values.smoke!;
const STAGES = ['gather', 'package', 'rollup', 'rollup-day', 'CCSPv2', 'CCSPv2-rollups', 'CCSPv2-events', 'CCSPv2-events-rollups', 'renewal', 'dedup', 'ccsp-dedup'] as const;
const chosen = new Set(values.stages ? values.stages.split(',') : STAGES);
const want = (stage: (typeof STAGES)[number]) => chosen.has(stage);
const root = fileURLToPath(new URL('../..', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));

const scale = smoke
  ? { days: 3, jobsPerDay: 10, hostsPerJob: 30, hosts: 300, tarballDays: 3, tarballRows: 2_000, eventRows: 1_000, dedupRows: 2_000, denseRows: 1_000, mainHosts: 300 }
  : { days: 30, jobsPerDay: 1_112, hostsPerJob: 30, hosts: 100_000, tarballDays: 30, tarballRows: 200_000, eventRows: 50_000, dedupRows: 100_000, denseRows: 20_000, mainHosts: 20_000 };
/** main_jobevent rows per job host summary row in the events month. */
const EVENTS_PER_ROW = 2;

interface Row {
  stage: string;
  what: string;
  m: Measurement;
  floor?: { what: string; m: Measurement };
  target?: { wallS?: number; rssMiB?: number; ratio?: number };
}
const rows: Row[] = [];
const log = (s: string) => process.stderr.write(`[bench] ${s}\n`);
const node = (script: string, args: string[]) => ['node', '--import', 'tsx', join(here, script), ...args];

/** `src` (a CSV with a header) with its rows repeated until `out` has at least `minBytes` (at least 3 copies). */
async function repeatCsv(src: string, out: string, minBytes: number): Promise<number> {
  const text = readFileSync(src, 'utf8');
  const nl = text.indexOf('\n') + 1;
  const body = Buffer.from(text.slice(nl));
  const copies = Math.max(3, Math.ceil((minBytes - nl) / Math.max(1, body.length)));
  await mkdir(join(out, '..'), { recursive: true });
  async function* chunks() {
    yield Buffer.from(text.slice(0, nl));
    for (let i = 0; i < copies; i++) yield body;
  }
  await pipeline(chunks, createWriteStream(out));
  return copies;
}

/** How often a stage with a wall-time target runs (the table shows the median run); twice when smoke-testing. */
const repeats = (n: number) => (smoke ? 2 : n);
/** `; median of N runs (a–b s); CPU steal x %` for a repeated measurement. */
const spread = (m: { walls: number[]; stealPct: number }) =>
  (m.walls.length > 1 ? `; median of ${m.walls.length} runs (${fmt(Math.min(...m.walls), 1)}–${fmt(Math.max(...m.walls), 1)} s)` : '') +
  (Number.isFinite(m.stealPct) ? `; CPU steal ${fmt(m.stealPct, 0)} %` : '');

function check<M extends Measurement>(m: M, what: string): M {
  if (m.exitCode !== 0) throw new Error(`${what} failed (exit ${m.exitCode}):\n${m.stderr.slice(-2000)}\n${m.stdout.slice(-500)}`);
  return m;
}

const work = await mkdtemp(join(tmpdir(), 'tally-bench-'));
const server = await findOrStartPostgres();
const dbName = `tally_bench_${Date.now().toString(36)}`;
const admin = await connect(server.url);
await admin.query(`CREATE DATABASE ${dbName}`);
const u = new URL(server.url);
u.pathname = `/${dbName}`;
const url = u.toString();
try {
  // 1. A seeded controller.
  log(`seeding a controller (${scale.days} days × ${scale.jobsPerDay} jobs × ~${scale.hostsPerJob} hosts) …`);
  const db = await connect(url);
  await applyControllerSchema(db);
  const end = new Date('2024-04-01T00:00:00Z');
  const seeded = await seedController(db, { days: scale.days, jobsPerDay: scale.jobsPerDay, hosts: scale.hosts, orgs: 10, seed: 7, end, hostsPerJob: scale.hostsPerJob, eventsPerSummary: 0 });
  await db.query('ANALYZE');
  await db.end();
  log(`seeded ${seeded.jobHostSummaries} job_host_summary rows, ${seeded.hostMetrics} host metrics`);

  // 2. gather vs psql COPY | gzip of the same statements.
  const ship = join(work, 'ship');
  const sqlOut = join(work, 'gather-sql.json');
  const since = seeded.since.toISOString();
  const until = seeded.until.toISOString();
  let copies: string[] = [];
  let baseArgs: string[] = [];
  let wholeArgs: string[] = [];
  if (want('gather') || want('package')) {
  const g = check(await measure(node('stage-gather.ts', ['--db', url, '--ship', ship, '--since', since, '--until', until, '--sql-out', sqlOut])), 'gather');
  const statements = (JSON.parse(readFileSync(sqlOut, 'utf8')) as string[]).filter((s) => /^\s*(COPY|CREATE)/.test(s));
  copies = statements.filter((s) => /^\s*COPY/.test(s));
  const creates = statements.filter((s) => /^\s*CREATE/.test(s)).slice(0, 1);
  const psqlArgs = (copy: string) => ['-X', '-q', '-d', url, '-c', "SET TimeZone='UTC'", '-c', `SET tally.since='${since}'`, '-c', `SET tally.until='${until}'`, ...creates.flatMap((c) => ['-c', c]), '-c', copy];
  // The floor replays each daily COPY the gather ran, with that slice's bounds, each piped through gzip.
  const slices = dailySlices({ since: seeded.since, until: seeded.until });
  if (copies.length !== slices.length) throw new Error(`gather ran ${copies.length} COPY statements for ${slices.length} daily slices`);
  const floorScript = slices
    .map((w, i) => `psql "$@" -c "SET tally.since='${w.since.toISOString()}'" -c "SET tally.until='${w.until.toISOString()}'" -c "$COPY_${i}" | gzip -6 > /dev/null`)
    .join(' && ');
  const env = { ...process.env, ...Object.fromEntries(copies.map((c, i) => [`COPY_${i}`, c])) };
  baseArgs = ['-X', '-q', '-d', url, '-c', "SET TimeZone='UTC'", ...creates.flatMap((c) => ['-c', c])];
  wholeArgs = psqlArgs('SELECT 1').slice(0, -2);
  const gf = check(await measure(['sh', '-c', floorScript, 'floor', ...baseArgs], { env }), 'gather floor');
  if (want('gather')) rows.push({ stage: 'gather', what: `${seeded.jobHostSummaries.toLocaleString('en')} job_host_summary rows → tarballs`, m: g, floor: { what: 'psql COPY … TO STDOUT \\| gzip', m: gf }, target: { ratio: 1.5 } });

  }

  // 3. packaging alone vs tar czf, on one CSV of the whole window.
  if (want('package')) {
  const csvDir = join(work, 'csv');
  execFileSync('mkdir', ['-p', csvDir]);
  const wholeCopy = copies[0]!.replace(/current_setting\('tally\.since'\)::timestamptz/g, `'${since}'::timestamptz`).replace(/current_setting\('tally\.until'\)::timestamptz/g, `'${until}'::timestamptz`);
  execFileSync('sh', ['-c', `psql "$@" -c "$COPY" > ${csvDir}/job_host_summary.csv`, 'copy', ...wholeArgs], { env: { ...process.env, COPY: wholeCopy } });
  const p = check(await measure(node('stage-package.ts', ['--csv', join(csvDir, 'job_host_summary.csv'), '--out', join(work, 'pkg.tar.gz')])), 'package');
  const pf = check(await measure(['tar', 'czf', join(work, 'floor.tar.gz'), '-C', csvDir, 'job_host_summary.csv']), 'tar czf');
  rows.push({ stage: 'package', what: 'the same rows as one CSV → .tar.gz', m: p, floor: { what: 'tar czf', m: pf } });
  // Packaging streams: the same rows repeated to 1 GiB of CSV (smoke: 3×) must not grow its memory.
  const bigDir = join(csvDir, 'big');
  const copiesOfBody = await repeatCsv(join(csvDir, 'job_host_summary.csv'), join(bigDir, 'job_host_summary.csv'), smoke ? 0 : 1024 ** 3);
  const pb = check(await measure(node('stage-package.ts', ['--csv', join(bigDir, 'job_host_summary.csv'), '--out', join(work, 'pkg-big.tar.gz')])), 'package (large)');
  const pbf = check(await measure(['tar', 'czf', join(work, 'floor-big.tar.gz'), '-C', bigDir, 'job_host_summary.csv']), 'tar czf (large)');
  const bigGiB = statSync(join(bigDir, 'job_host_summary.csv')).size / 1024 ** 3;
  rows.push({ stage: 'package, large', what: `${bigGiB.toFixed(2)} GiB of CSV (those rows ${copiesOfBody}×) → .tar.gz`, m: pb, floor: { what: 'tar czf', m: pbf }, target: { rssMiB: 256 } });
  await rm(bigDir, { recursive: true, force: true });
  }

  // 4. 30 daily tarballs × 200k rows: rollup and CCSPv2 report vs gzip -dc.
  const lake = join(work, 'lake');
  if (want('rollup') || want('rollup-day') || want('CCSPv2') || want('CCSPv2-rollups')) {
  log(`generating ${scale.tarballDays} daily tarballs × ${scale.tarballRows} rows …`);
  const names = await generateTarballs({ out: lake, days: scale.tarballDays, rows: scale.tarballRows, start: new Date('2024-03-01T00:00:00Z') });
  const files = names.map((n) => join(lake, n));
  const gz = check(await measure(['sh', '-c', 'gzip -dc "$@" > /dev/null', 'gz', ...files]), 'gzip -dc');
  const total = (scale.tarballDays * scale.tarballRows).toLocaleString('en');
  if (want('rollup')) {
  const r = check(await measureRuns(node('stage-rollup.ts', ['--ship', lake, '--since', '2024-03-01T00:00:00Z', '--until', '2024-04-01T00:00:00Z']), repeats(3)), 'rollup');
  rows.push({ stage: 'rollup', what: `${total} job_host_summary rows → month Parquet${spread(r)}`, m: r, floor: { what: 'gzip -dc of the tarballs', m: gz }, target: { wallS: 6, rssMiB: 1024 } });
  }
  if (want('rollup-day') || want('CCSPv2') || want('CCSPv2-rollups')) {
  // What an operator's cron job runs: `tally report` with metrics-utility's environment.
  const reportEnv = {
    ...process.env,
    METRICS_UTILITY_SHIP_TARGET: 'directory',
    METRICS_UTILITY_SHIP_PATH: lake,
    METRICS_UTILITY_REPORT_TYPE: 'CCSPv2',
    METRICS_UTILITY_PRICE_PER_NODE: '11.55',
    METRICS_UTILITY_REPORT_SKU: 'MCT3752MO',
    METRICS_UTILITY_REPORT_COMPANY_NAME: 'Bench',
  };
  const tally = (...args: string[]) => ['node', join(root, 'packages/cli/dist/tally.js'), ...args];
  let raw: Awaited<ReturnType<typeof measureRuns>> | undefined;
  if (want('CCSPv2')) {
  raw = check(await measureRuns(tally('report', '--month', '2024-03', '--force', '--from', 'raw'), repeats(5), { env: reportEnv }), 'CCSPv2');
  rows.push({ stage: 'CCSPv2', what: `report over ${total} rows from the tarballs${spread(raw)}`, m: raw, floor: { what: 'gzip -dc of the tarballs', m: gz }, target: { wallS: 8, rssMiB: 1024, ratio: 1.6 } });
  }
  if (want('rollup-day') || want('CCSPv2-rollups')) {
  // The operator's nightly `tally rollup --period day` (here over the whole month: every day's job-grain
  // part, usage tables and the month-to-date merge), which the report from rollups then reads.
  const day = check(await measureRuns(tally('rollup', '--since', '2024-03-01', '--until', '2024-04-01', '--period', 'day'), repeats(want('rollup-day') ? 3 : 1), { env: reportEnv }), 'rollup --period day');
  if (want('rollup-day')) rows.push({ stage: 'rollup, day', what: `the same rows → 30 daily rollups${spread(day)}`, m: day, floor: { what: 'gzip -dc of the tarballs', m: gz }, target: { rssMiB: 1024, ratio: 1.5 } });
  }
  if (want('CCSPv2-rollups')) {
  const fromRollups = check(await measureRuns(tally('report', '--month', '2024-03', '--force'), repeats(5), { env: reportEnv }), 'CCSPv2 from rollups');
  const vsRaw = raw ? `; ${fmt(fromRollups.wallS / raw.wallS, 2)}× the report from the tarballs` : '';
  rows.push({ stage: 'CCSPv2-rollups', what: `the same report from 30 daily rollups${vsRaw}${spread(fromRollups)}`, m: fromRollups, floor: { what: 'gzip -dc of the tarballs', m: gz }, target: { rssMiB: 300, ratio: 0.15 } });
  }
  }
  }

  // 4b. A month with job events: 30 daily tarballs × 50k job host summaries, 2 events each; the
  // report with its content-usage sheets, from the tarballs and from daily rollups, vs gzip -dc.
  if (want('CCSPv2-events') || want('CCSPv2-events-rollups')) {
    const eventsLake = join(work, 'lake-events');
    log(`generating ${scale.tarballDays} daily tarballs × ${scale.eventRows} rows with ${EVENTS_PER_ROW} events each …`);
    const names = await generateTarballs({ out: eventsLake, days: scale.tarballDays, rows: scale.eventRows, eventsPerRow: EVENTS_PER_ROW, start: new Date('2024-03-01T00:00:00Z') });
    const gz = check(await measure(['sh', '-c', 'gzip -dc "$@" > /dev/null', 'gz', ...names.map((n) => join(eventsLake, n))]), 'gzip -dc (events)');
    const env = {
      ...process.env,
      METRICS_UTILITY_SHIP_TARGET: 'directory',
      METRICS_UTILITY_SHIP_PATH: eventsLake,
      METRICS_UTILITY_REPORT_TYPE: 'CCSPv2',
      METRICS_UTILITY_PRICE_PER_NODE: '11.55',
      METRICS_UTILITY_REPORT_SKU: 'MCT3752MO',
      METRICS_UTILITY_REPORT_COMPANY_NAME: 'Bench',
    };
    const tally = (...args: string[]) => ['node', join(root, 'packages/cli/dist/tally.js'), ...args];
    const jhsRows = (scale.tarballDays * scale.eventRows).toLocaleString('en');
    const eventRows = (scale.tarballDays * scale.eventRows * EVENTS_PER_ROW).toLocaleString('en');
    const floor = { what: 'gzip -dc of the tarballs', m: gz };
    if (want('CCSPv2-events')) {
      const r = check(await measureRuns(tally('report', '--month', '2024-03', '--force', '--from', 'raw'), repeats(5), { env }), 'CCSPv2 with events');
      rows.push({ stage: 'CCSPv2 with events', what: `report with collections, roles and modules over ${jhsRows} job_host_summary + ${eventRows} main_jobevent rows${spread(r)}`, m: r, floor, target: { rssMiB: 1024, ratio: 2 } });
    }
    if (want('CCSPv2-events-rollups')) {
      check(await measure(tally('rollup', '--since', '2024-03-01', '--until', '2024-04-01', '--period', 'day'), { env }), 'rollup --period day (events)');
      const r = check(await measureRuns(tally('report', '--month', '2024-03', '--force'), repeats(5), { env }), 'CCSPv2 with events from rollups');
      rows.push({ stage: 'CCSPv2 with events, rollups', what: `the same report from ${scale.tarballDays} daily rollups${spread(r)}`, m: r, floor, target: { rssMiB: 1024, ratio: 0.15 } });
    }
  }

  // 5. Renewal Guidance from the controller's host metrics.
  if (want('renewal')) {
  const rg = check(await measureRuns(node('stage-renewal.ts', ['--db', url, '--ship', join(work, 'renewal'), '--since', since]), repeats(3)), 'renewal');
  const rgf = check(await measure(['sh', '-c', 'psql "$@" -c "COPY (SELECT * FROM main_hostmetric) TO STDOUT WITH CSV HEADER" > /dev/null', 'rg', '-X', '-q', '-d', url]), 'renewal floor');
  rows.push({ stage: 'renewal', what: `Renewal Guidance, ${seeded.hostMetrics.toLocaleString('en')} host metrics${spread(rg)}`, m: rg, floor: { what: 'psql COPY main_hostmetric', m: rgf }, target: { wallS: 10 } });
  }

  // 6. The Renewal Guidance deduplicator alone (metrics-utility's rule), beside generating the rows and hashing each identifier once.
  if (want('dedup')) {
  for (const [shape, n, target] of [['realistic', scale.dedupRows, { wallS: 5, ratio: 3 }], ['dense', scale.denseRows, { wallS: 15, ratio: 8 }]] as const) {
    const args = ['--shape', shape, '--rows', String(n)];
    const d = check(await measureRuns(node('stage-renewal-dedup.ts', args), repeats(3)), `dedup ${shape}`);
    const df = check(await measure(node('stage-renewal-dedup.ts', [...args, '--floor'])), `dedup ${shape} floor`);
    const out = JSON.parse(d.stdout.trim().split('\n').pop()!) as { nodes: number; memberships: number };
    const what = shape === 'dense' ? 'chains of 8 reaching a shared-serial hub' : 'inventory-like sharing';
    rows.push({
      stage: shape === 'dense' ? 'renewal dedup, dense' : 'renewal dedup',
      what: `${n.toLocaleString('en')} host metrics, ${what} → ${out.nodes.toLocaleString('en')} nodes of ${out.memberships.toLocaleString('en')} host names${spread(d)}`,
      m: d,
      floor: { what: 'generate the rows, hash each identifier once', m: df },
      target,
    });
  }
  }

  // 7. CCSPv2 under ccsp-experimental: a day of job host summaries and a main_host whose serials merge hosts, beside the same report under ccsp.
  const dedupLake = join(work, 'ccsp-dedup');
  if (want('ccsp-dedup')) {
    const day = new Date('2024-03-01T00:00:00Z');
    await generateTarballs({ out: dedupLake, days: 1, rows: scale.dedupRows, start: day, hosts: scale.mainHosts });
    await writeMainHostTarball(dedupLake, day, scale.mainHosts);
    const report = (deduplicator: string) => ({
      argv: ['node', join(root, 'packages/cli/dist/tally.js'), 'report', '--month', '2024-03', '--force'],
      env: { ...process.env, METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: dedupLake, METRICS_UTILITY_REPORT_TYPE: 'CCSPv2', METRICS_UTILITY_DEDUPLICATOR: deduplicator },
    });
    const plain = report('ccsp');
    const base = check(await measureRuns(plain.argv, repeats(3), { env: plain.env }), 'CCSPv2 ccsp');
    const exp = report('ccsp-experimental');
    const d = check(await measureRuns(exp.argv, repeats(3), { env: exp.env }), 'CCSPv2 ccsp-experimental');
    rows.push({
      stage: 'ccsp-experimental',
      what: `CCSPv2 over ${scale.dedupRows.toLocaleString('en')} job host summaries, ${scale.mainHosts.toLocaleString('en')} main_host hosts (10 % clones, 20 % NA/NA)${spread(d)}`,
      m: d,
      floor: { what: 'the same report under ccsp', m: base },
      target: { wallS: 10 },
    });
  }

  // Report.
  const verdict = (row: Row): string => {
    const t = row.target;
    if (!t) return '';
    const fails: string[] = [];
    if (t.wallS !== undefined && row.m.wallS > t.wallS) fails.push(`wall > ${t.wallS} s`);
    if (t.rssMiB !== undefined && row.m.peakRssMiB > t.rssMiB) fails.push(`RSS > ${t.rssMiB} MiB`);
    if (t.ratio !== undefined && row.floor && row.m.wallS / row.floor.m.wallS > t.ratio) fails.push(`ratio > ${t.ratio}`);
    return fails.length ? `missed (${fails.join(', ')})` : 'met';
  };
  const table = [
    '| stage | what | wall s | CPU s | peak RSS MiB | floor | floor wall s | floor RSS MiB | × floor | target |',
    '|---|---|---:|---:|---:|---|---:|---:|---:|---|',
    ...rows.map((row) => `| ${row.stage} | ${row.what} | ${fmt(row.m.wallS)} | ${fmt(row.m.cpuS)} | ${fmt(row.m.peakRssMiB, 0)} | ${row.floor?.what ?? ''} | ${fmt(row.floor?.m.wallS ?? Number.NaN)} | ${fmt(row.floor?.m.peakRssMiB ?? Number.NaN, 0)} | ${row.floor ? fmt(row.m.wallS / row.floor.m.wallS, 1) : ''} | ${verdict(row)} |`),
  ].join('\n');
  process.stdout.write(`${table}\n`);
  if (!smoke && chosen.size === STAGES.length) {
    const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 1024 ** 3).toFixed(0)} GiB memory, Node ${process.version}, PostgreSQL ${server.kind}`;
    const file = join(root, 'BENCHMARKS.md');
    const prev = (() => { try { return readFileSync(file, 'utf8'); } catch { return ''; } })();
    const notesAt = prev.indexOf('\n## Notes');
    const notes = notesAt >= 0 ? prev.slice(notesAt) : '\n## Notes\n\n(where the time goes, for any target missed)\n';
    writeFileSync(file, `# Benchmarks\n\nMeasured by \`pnpm bench\` on ${new Date().toISOString().slice(0, 10)}: ${machine}.\nWall, CPU (user+sys) and peak RSS of the whole process tree as \`/usr/bin/time -v\` reports them; each stage beside its physical floor. Stages with a wall-time target run several times: the row is the median run, its peak RSS the highest of all runs.\n\n${table}\n${notes}`);
    log(`wrote ${file}`);
  }
  // Prove every chosen stage produced its artifact.
  const files = async (dir: string) => (await readdir(dir, { recursive: true }).catch(() => [])).map(String);
  if (want('gather') && !(await files(ship)).some((f) => f.endsWith('.tar.gz'))) throw new Error('gather produced no tarball');
  if (want('rollup') && !(await files(lake)).some((f) => f.endsWith('.parquet'))) throw new Error('rollup produced no parquet');
  if (want('CCSPv2') && !(await files(lake)).some((f) => f.endsWith('.xlsx'))) throw new Error('report produced no workbook');
  if (want('renewal') && !(await files(join(work, 'renewal'))).some((f) => f.endsWith('.xlsx'))) throw new Error('renewal produced no workbook');
  if (want('ccsp-dedup') && !(await files(dedupLake)).some((f) => f.endsWith('.xlsx'))) throw new Error('ccsp-experimental produced no workbook');
  process.stdout.write(`bench: ${rows.length} stages ran\n`);
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
  await admin.end();
  await server.stop();
  if (!values.keep) await rm(work, { recursive: true, force: true });
  else log(`kept ${work}`);
}
void pg;
