import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manifestName, rollup } from '@tally/dataframes';
import { buildCcspReport, reportParams } from '@tally/reports';
import { DirectoryStorage } from '@tally/storage';
import { failingStatements, recordingLogger, recordingStatements, schemaCsv } from '@tally/testkit';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { workbookCells } from './workbook-cells.js';

// The three content-usage sheets of a generated month with events, from the tarballs and from
// daily rollups, against the same figures computed here from the CSVs the tarballs hold.

const DAYS = ['2024-05-01', '2024-05-02', '2024-05-03'];
const SHEETS = ['ccsp_summary', 'managed_nodes', 'usage_by_collections', 'usage_by_roles', 'usage_by_modules'];
const { reportPeriod: _, ...params } = reportParams({ reportPeriod: '', pricePerNode: 1, sku: 'SKU', companyName: 'Acme', sheets: SHEETS, now: new Date(Date.UTC(2024, 5, 2)) });

/** [task_action, resolved_action, role, resolved_role]: what a task ran, as a controller records it. */
const CONTENT = [
  ['ansible.builtin.copy', 'ansible.builtin.copy', '', ''],
  ['copy', 'ansible.builtin.copy', '', ''],
  ['shell', '', '', ''],
  ['my_module', '', 'common', ''],
  ['community.general.ini_file', 'community.general.ini_file', 'geerlingguy.nginx', ''],
  ['include_role', 'ansible.builtin.include_role', '', 'redhat.rhel_system_roles.timesync'],
  ['ansible.builtin.include_role', 'ansible.builtin.include_role', 'geerlingguy.mysql', 'geerlingguy.mysql'],
  ['template', 'ansible.builtin.template', 'ns.coll.sub.deep', ''],
  ['acmé.zürich.fichier', 'acmé.zürich.fichier', 'acmé.rôle', ''],
  ['模块', '', 'ns.coll.rôle', ''],
  ['cisco.ios.ios_config', 'cisco.ios.ios_config', 'a.b-c', ''],
  ['debug', '', 'ns.coll.', ''],
] as const;

type Row = Record<string, string>;
interface Day {
  jhs: Row[];
  events: Row[];
}

/** xorshift32: deterministic data. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/**
 * Three days of jobs over 12 hosts (every third one renamed through ansible_host, which the
 * events do not know) and 2 hosts with events only, 1–4 events per job host: job 1 runs on the first two days (a job host
 * summary and events on each), some events lack a task_action or a host, some a duration.
 */
function generate(opts: { jobInTwoDays?: boolean; modules?: number; negativeJob?: boolean } = { jobInTwoDays: true }): Day[] {
  const rand = rng(2024);
  let id = 0;
  return DAYS.map((date, d) => {
    const day: Day = { jhs: [], events: [] };
    for (let job = d * 4 + 1; job <= d * 4 + 4; job++) {
      // The second day's first job is job 1 again; with `negativeJob`, job 2 is -2 (a node that does not pack).
      const jobId = opts.jobInTwoDays && job === 5 ? 1 : opts.negativeJob && job === 2 ? -2 : job;
      // Hosts 12–13 have events but no job host summary (counted by their names alone).
      for (let h = 0; h < 14; h++) {
        if (rand() < 0.3) continue;
        const host = `host-${h}.example.com`;
        const at = `${date} ${String(job % 24).padStart(2, '0')}:00:00.000000+00`;
        id++;
        if (h < 12) day.jhs.push({ id: String(id), created: at, modified: at, host_name: host, ansible_host_variable: h % 3 === 0 ? `10.0.0.${h}` : '', ok: '1', dark: '0', failures: '0', skipped: '0', ignored: '0', rescued: '0', processed: '1', changed: '0', failed: 'f', job_created: at, job_remote_id: String(jobId), job_template_name: 'Deploy', organization_name: `Org ${h % 2}` });
        const n = 1 + Math.floor(rand() * 4);
        for (let e = 0; e < n; e++) {
          const [task_action, resolved_action, role, resolved_role] = opts.modules ? manyModules(rand, opts.modules) : CONTENT[Math.floor(rand() * CONTENT.length)]!;
          const r = rand();
          day.events.push({
            id: String(id * 10 + e),
            created: at,
            job_created: at,
            event: 'runner_on_ok',
            task_action: r < 0.03 ? '' : task_action,
            resolved_action,
            role,
            resolved_role,
            duration: r > 0.95 ? '' : (rand() * 10).toFixed(6),
            task: e === 0 ? 'Install "nginx", then start' : `Task ${e}`,
            job_remote_id: String(jobId),
            host_name: r > 0.03 && r < 0.05 ? '' : host,
          });
        }
      }
    }
    return day;
  });
}

/** With `generate`'s `modules`: a CONTENT row or (half the time) one of `n` modules of 7 collections. */
function manyModules(rand: () => number, n: number): readonly [string, string, string, string] {
  if (rand() < 0.5) return CONTENT[Math.floor(rand() * CONTENT.length)]!;
  const k = Math.floor(rand() * n);
  return [`mod${k}`, `ns${k % 7}.coll.mod${k}`, '', ''];
}

function writeTarballs(ship: string, days: Day[], install: string, only?: number): void {
  days.forEach((day, i) => {
    if (only !== undefined && i !== only) return;
    const src = mkdtempSync(join(tmpdir(), 'tally-content-src-'));
    writeFileSync(join(src, 'config.json'), JSON.stringify({ install_uuid: install }));
    writeFileSync(join(src, 'job_host_summary.csv'), schemaCsv('job_host_summary.csv', day.jhs));
    writeFileSync(join(src, 'main_jobevent.csv'), schemaCsv('main_jobevent.csv', day.events));
    const [y, m, d] = DAYS[i]!.split('-');
    const dir = join(ship, 'data', y!, m!, d!);
    mkdirSync(dir, { recursive: true });
    const next = `${y}-${m}-${String(Number(d) + 1).padStart(2, '0')}`;
    execFileSync('tar', ['czf', join(dir, `${install}-${DAYS[i]}-000000+0000-${next}-000000+0000-0.tar.gz`), '-C', src, '.']);
    rmSync(src, { recursive: true, force: true });
  });
}

/** Python's `\w` (the reference's regexes run in pandas): Unicode letters, numbers, `_`. */
const W = String.raw`[\p{L}\p{N}_]`;
const COLLECTION = new RegExp(String.raw`^(${W}+)\.(${W}+)\.((${W}+)(\.|$))+`, 'u');
const STANDALONE = new RegExp(String.raw`^(${W}+)\.(${W}+)$`, 'u');

/** The three sheets' rows, computed from the generated CSV rows the way the reference reads them. */
function expected(days: Day[], install: string): Record<string, unknown[][]> {
  // (host, job) → ansible_host, from the job host summaries (one install).
  const mapped = new Map<string, string>();
  for (const r of days.flatMap((d) => d.jhs)) if (r.ansible_host_variable) mapped.set(`${r.host_name}\u0000${r.job_remote_id}`, r.ansible_host_variable);
  const sheets: Record<string, Map<string, { hosts: Set<string>; nodes: Set<string>; runs: number; micros: number }>> = { collection: new Map(), role: new Map(), module: new Map() };
  for (const e of days.flatMap((d) => d.events)) {
    if (!e.task_action || !e.host_name) continue;
    const module = e.resolved_action || e.task_action!;
    const role = e.resolved_role || e.role || '';
    const c = COLLECTION.exec(module);
    const rc = COLLECTION.exec(role);
    const keys = {
      collection: c ? `${c[1]}.${c[2]}` : 'No collection used',
      role: rc ? `${rc[1]}.${rc[2]}.${rc[3]}` : STANDALONE.test(role) ? role : 'No role used',
      module,
    };
    const host = mapped.get(`${e.host_name}\u0000${e.job_remote_id}`) ?? e.host_name!;
    for (const [sheet, key] of Object.entries(keys)) {
      const acc = sheets[sheet]!.get(key) ?? { hosts: new Set(), nodes: new Set(), runs: 0, micros: 0 };
      acc.hosts.add(host);
      acc.nodes.add(`${host}__${install}__${e.job_remote_id}`);
      acc.runs += 1;
      acc.micros += e.duration ? Math.round(Number(e.duration) * 1e6) : 0;
      sheets[sheet]!.set(key, acc);
    }
  }
  const rows = (m: (typeof sheets)[string]) =>
    [...m.entries()]
      .sort(([a], [b]) => (Buffer.from(a) < Buffer.from(b) ? -1 : 1))
      .map(([k, v]) => [k, v.hosts.size, v.nodes.size, v.runs, v.micros / 1e6]);
  return { 'Usage by collections': rows(sheets.collection!), 'Usage by roles': rows(sheets.role!), 'Usage by modules': rows(sheets.module!) };
}

async function contentSheets(path: string): Promise<Record<string, unknown[][]>> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(path);
  const out: Record<string, unknown[][]> = {};
  for (const name of ['Usage by collections', 'Usage by roles', 'Usage by modules']) {
    const ws = wb.getWorksheet(name);
    if (!ws) continue;
    const rows: unknown[][] = [];
    for (let r = 2; r <= ws.rowCount; r++) rows.push(Array.from({ length: 5 }, (_, i) => ws.getRow(r).getCell(i + 1).value ?? null));
    out[name] = rows;
  }
  return out;
}

/** While `on`, the statements of every database a report opens (`statements`, one list per database). */
const recorded = vi.hoisted(() => ({ on: false, statements: [] as string[][] }));
/** While set, the next report's database fails the first statement its second connection runs matching `at` (DuckDB's own error). */
const besideFails = vi.hoisted(() => ({ at: undefined as RegExp | undefined, failedAt: [] as string[] }));
function record<D extends import('@tally/dataframes').TallyDuckDb>(db: D): D {
  if (besideFails.at) {
    const beside = failingStatements(db.beside, besideFails.at, ['other']);
    besideFails.failedAt = beside.failedAt;
    db = Object.assign(Object.create(db) as D, { beside });
  }
  if (!recorded.on) return db;
  const recording = recordingStatements(db);
  recorded.statements.push(recording.statements);
  return recording;
}
vi.mock('@tally/dataframes', async (importOriginal) => {
  const real = await importOriginal<typeof import('@tally/dataframes')>();
  return {
    ...real,
    openDuckDb: async (opts?: import('@tally/dataframes').DuckDbOptions) => record(await real.openDuckDb(opts)),
    startDuckDb: (opts?: import('@tally/dataframes').DuckDbOptions) => record(real.startDuckDb(opts)),
  };
});

let base: string;
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'tally-content-'));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('content-usage sheets of a month with events', () => {
  // An install with `_` makes the non-unique nodes count as the reference's text, not as columns.
  it.each(['3c0ffee0-aaaa-4bbb-8ccc-000000000001', 'lab_install'])('install %s: from the tarballs, from daily rollups and from the CSVs, the same cells', async (install) => {
    const days = generate();
    const ship = join(base, install);
    writeTarballs(ship, days, install);
    const storage = new DirectoryStorage({ base: ship });
    const want = expected(days, install);
    // The generated month exercises what it claims to.
    const keys = Object.values(want).flatMap((rows) => rows.map((r) => r[0]));
    for (const k of ['ansible.builtin', 'No collection used', 'acmé.zürich', '模块', 'redhat.rhel_system_roles.timesync', 'geerlingguy.nginx', 'ns.coll.deep', 'ns.coll.rôle', 'acmé.rôle', 'No role used']) {
      expect(keys).toContain(k);
    }
    expect(keys).not.toContain('a.b-c');

    const raw = await buildCcspReport({ type: 'CCSPv2', storage, period: { month: '2024-05' }, params, from: 'raw', force: true });
    expect(raw.status).toBe('written');
    expect(raw.read?.days.raw).toEqual(DAYS);
    const fromRaw = await contentSheets(join(ship, raw.name));
    expect(fromRaw).toEqual(want);

    const rolled = await rollup({ storage, since: new Date('2024-05-01T00:00:00Z'), until: new Date('2024-05-04T00:00:00Z'), period: 'day' });
    expect(rolled.parts.filter((p) => p.kind === 'main_jobevent')).toHaveLength(3);
    const fromRollups = await buildCcspReport({ type: 'CCSPv2', storage, period: { month: '2024-05' }, params, force: true });
    expect(fromRollups.read?.days).toEqual({ rollup: DAYS, raw: [] });
    // Job 1 runs on two days: the content rollups do not merge, the job-grain ones are read.
    expect(fromRollups.read?.inputs.filter((i) => i.name.includes('/main_jobevent/'))).toHaveLength(3);
    expect(fromRollups.read?.inputs.filter((i) => i.name.includes('/usage_content/'))).toHaveLength(0);
    expect(await contentSheets(join(ship, fromRollups.name))).toEqual(fromRaw);
  });
});

describe('content-usage sheets of many content keys', () => {
  // Few (collection, role, module) triples are counted through a bit per triple, many (here >63)
  // per sheet key; job -2 makes nodes of known hosts that do not pack as one integer.
  it.each([0, 80])('%i extra modules and a negative job id: from the tarballs, the cells of the CSVs', async (modules) => {
    const days = generate({ modules, negativeJob: true });
    const install = '3c0ffee0-aaaa-4bbb-8ccc-000000000003';
    const ship = join(base, `many-${modules}`);
    writeTarballs(ship, days, install);
    const want = expected(days, install);
    const triples = new Set(days.flatMap((d) => d.events).filter((e) => e.task_action && e.host_name).map((e) => `${e.resolved_action || e.task_action}\u0000${e.resolved_role || e.role}`));
    expect(triples.size > 63).toBe(modules > 0);
    const known = new Set(days.flatMap((d) => d.jhs).map((r) => r.host_name));
    expect(days.flatMap((d) => d.events).some((e) => e.job_remote_id === '-2' && known.has(e.host_name!))).toBe(true);
    const storage = new DirectoryStorage({ base: ship });
    const raw = await buildCcspReport({ type: 'CCSPv2', storage, period: { month: '2024-05' }, params, from: 'raw', force: true });
    expect(raw.status).toBe('written');
    expect(await contentSheets(join(ship, raw.name))).toEqual(want);
  });
});

describe('content-usage sheets merged from content rollups', () => {
  const INSTALL = '3c0ffee0-aaaa-4bbb-8ccc-000000000002';
  const month = { since: new Date('2024-05-01T00:00:00Z'), until: new Date('2024-05-04T00:00:00Z') };
  // With `jobs` (a sheet the ready sheet rows do not serve) the month-to-date usage tables are read, not its sheet rows.
  const withJobs = { ...params, sheets: [...SHEETS, 'jobs'] };
  const report = (storage: DirectoryStorage, from?: 'raw', p = params) =>
    buildCcspReport({ type: 'CCSPv2', storage, period: { month: '2024-05' }, params: p, force: true, ...(from ? { from } : {}) });
  const readOf = (r: Awaited<ReturnType<typeof report>>, kind: string) => r.read?.inputs.filter((i) => i.name.includes(`/${kind}/`)) ?? [];

  /** A ship of `days`, its report from the tarballs (checked against `expected`) and its day rollups. */
  async function rolledUp(name: string, days: Day[], p = params) {
    const ship = join(base, name);
    writeTarballs(ship, days, INSTALL);
    const storage = new DirectoryStorage({ base: ship });
    const raw = await report(storage, 'raw', p);
    expect(raw.status).toBe('written');
    expect(await contentSheets(join(ship, raw.name))).toEqual(expected(days, INSTALL));
    const rawCells = await workbookCells(join(ship, raw.name));
    await rollup({ storage, ...month, period: 'day' });
    return { ship, storage, rawCells };
  }
  const monthToDateOf = (ship: string, date: string) => JSON.parse(readFileSync(join(ship, manifestName('day', date)), 'utf8')).monthToDate;

  it('no job in two days: every sheet from the month-to-date usage sheet rows and content merge alone, the cells of the tarballs', async () => {
    const days = generate({ jobInTwoDays: false });
    const { ship, storage, rawCells } = await rolledUp('merged', days);
    expect(monthToDateOf(ship, DAYS[2]!).content.name).toContain('/usage_content_month_to_date/');
    const merged = await report(storage);
    expect(merged.read?.days).toEqual({ rollup: DAYS, raw: [] });
    // The days' content rollups come merged, as their month to date, and the usage sheets as its ready rows.
    expect(readOf(merged, 'usage_content')).toHaveLength(0);
    expect(readOf(merged, 'usage_content_month_to_date')).toHaveLength(1);
    expect(readOf(merged, 'usage_sheet_hosts_month_to_date')).toHaveLength(1);
    expect(readOf(merged, 'usage_hosts')).toHaveLength(0);
    expect(readOf(merged, 'usage_hosts_month_to_date')).toHaveLength(0);
    expect(readOf(merged, 'main_jobevent')).toHaveLength(0);
    expect(readOf(merged, 'job_host_summary')).toHaveLength(0);
    expect(merged.read?.skipped).toEqual([]);
    // Hosts run content on several days: unique hosts are not the days' sums.
    const sheets = await contentSheets(join(ship, merged.name));
    expect(sheets).toEqual(expected(days, INSTALL));
    expect(await workbookCells(join(ship, merged.name))).toEqual(rawCells);
  });

  it('a sheet the ready rows do not serve: the month-to-date usage tables and content merge, the cells of the tarballs', async () => {
    const days = generate({ jobInTwoDays: false });
    const { ship, storage, rawCells } = await rolledUp('merged-jobs', days, withJobs);
    const merged = await report(storage, undefined, withJobs);
    expect(readOf(merged, 'usage_content')).toHaveLength(0);
    expect(readOf(merged, 'usage_content_month_to_date')).toHaveLength(1);
    expect(readOf(merged, 'usage_hosts_month_to_date')).toHaveLength(1);
    expect(readOf(merged, 'usage_sheet_hosts_month_to_date')).toHaveLength(0);
    expect(await workbookCells(join(ship, merged.name))).toEqual(rawCells);
  });

  it('chained rollup runs: the month-to-date content merge of the first days extended by the next one', async () => {
    const days = generate({ jobInTwoDays: false });
    const ship = join(base, 'chained');
    writeTarballs(ship, days, INSTALL);
    const storage = new DirectoryStorage({ base: ship });
    const rawCells = await workbookCells(join(ship, (await report(storage, 'raw')).name));
    const { logger, lines } = recordingLogger();
    await rollup({ storage, since: month.since, until: new Date('2024-05-03T00:00:00Z'), period: 'day', logger });
    expect(monthToDateOf(ship, DAYS[1]!).content).toBeDefined();
    await rollup({ storage, since: new Date('2024-05-03T00:00:00Z'), until: month.until, period: 'day', logger });
    const written = lines.filter((l) => l.msg === 'month-to-date usage written').map((l) => l.fields);
    expect(written).toEqual([expect.objectContaining({ date: DAYS[1], from: 'days' }), expect.objectContaining({ date: DAYS[2], from: DAYS[1] })]);
    expect(monthToDateOf(ship, DAYS[2]!).days.map((d: { content?: string }) => d.content)).toHaveLength(3);
    for (const p of [params, withJobs]) {
      const merged = await report(storage, undefined, p);
      expect(readOf(merged, 'usage_content')).toHaveLength(0);
      expect(readOf(merged, 'usage_content_month_to_date')).toHaveLength(1);
      if (p === params) expect(await workbookCells(join(ship, merged.name))).toEqual(rawCells);
      else expect(await workbookCells(join(ship, merged.name))).toEqual(await workbookCells(join(ship, (await report(storage, 'raw', withJobs)).name)));
    }
  });

  it("a day rebuilt into other bytes than the merge recorded: the days' content rollups, the cells of the tarballs", async () => {
    const days = generate({ jobInTwoDays: false });
    const { ship, storage } = await rolledUp('rebuilt', days);
    const lastManifest = join(ship, manifestName('day', DAYS[2]!));
    const recorded = readFileSync(lastManifest, 'utf8');
    // Day 2 gains an event and is rolled again; the last day's record is then put back as it was.
    days[1]!.events.push({ ...days[1]!.events[0]!, id: '999999', duration: '2.250000' });
    writeTarballs(ship, days, INSTALL, 1);
    await rollup({ storage, since: new Date('2024-05-02T00:00:00Z'), until: new Date('2024-05-03T00:00:00Z'), period: 'day' });
    const current = readFileSync(lastManifest, 'utf8');
    expect(JSON.parse(current).monthToDate.days[1].content).not.toBe(JSON.parse(recorded).monthToDate.days[1].content);
    const rawCells = await workbookCells(join(ship, (await report(storage, 'raw')).name));
    // The old record; then the current one naming other bytes for day 2's content rollup alone (its usage parts as they are).
    const onlyContent = JSON.parse(current);
    onlyContent.monthToDate.days[1].content = 'f'.repeat(64);
    for (const record of [recorded, JSON.stringify(onlyContent)]) {
      writeFileSync(lastManifest, record);
      const merged = await report(storage);
      expect(merged.read?.days).toEqual({ rollup: DAYS, raw: [] });
      expect(readOf(merged, 'usage_content')).toHaveLength(3);
      expect(readOf(merged, 'usage_content_month_to_date')).toHaveLength(0);
      expect(readOf(merged, 'usage_hosts_month_to_date')).toHaveLength(0);
      expect(merged.read?.skipped).toEqual([]);
      expect(await contentSheets(join(ship, merged.name))).toEqual(expected(days, INSTALL));
      expect(await workbookCells(join(ship, merged.name))).toEqual(rawCells);
    }
  });

  it.each([
    ['ready sheet rows', params],
    ['usage tables', withJobs],
  ])("a corrupt month-to-date content merge (with its %s): named, and the days' content rollups merged instead", async (_, p) => {
    const days = generate({ jobInTwoDays: false });
    const { ship, storage, rawCells } = await rolledUp(`corrupt-${p.sheets.length}`, days, p);
    const part = monthToDateOf(ship, DAYS[2]!).content.name;
    const bytes = readFileSync(join(ship, part));
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(join(ship, part), bytes);
    const merged = await report(storage, undefined, p);
    expect(merged.read?.skipped.map((s) => s.name)).toEqual([part]);
    expect(readOf(merged, 'usage_content')).toHaveLength(3);
    expect(readOf(merged, 'usage_content_month_to_date')).toHaveLength(0);
    expect(await contentSheets(join(ship, merged.name))).toEqual(expected(days, INSTALL));
    expect(await workbookCells(join(ship, merged.name))).toEqual(rawCells);
  });

  it.each([
    ['the content merge', /^CREATE OR REPLACE TABLE report_content AS/],
    ['the ready sheet rows', /^CREATE OR REPLACE TABLE report_ready_hosts AS/],
  ])('%s failing on the second connection: the report fails with its error and writes nothing', async (_, at) => {
    const days = generate({ jobInTwoDays: false });
    const { ship, storage } = await rolledUp(`beside-fails-${at.source.length}`, days);
    const workbook = join(ship, 'reports/2024/05/CCSPv2-2024-05.xlsx');
    rmSync(workbook);
    rmSync(workbook.replace(/\.xlsx$/, '.inputs.json'));
    besideFails.at = at;
    const failed = report(storage).finally(() => {
      besideFails.at = undefined;
    });
    await expect(failed).rejects.toThrow('could not write to the temporary directory (injected)');
    expect(besideFails.failedAt).toHaveLength(1);
    expect(readdirSync(join(ship, 'reports/2024/05'))).toEqual([]);
    // The same report once nothing fails.
    expect((await report(storage)).status).toBe('written');
  });

  it('a job whose events lie on another day than its job host summaries: the job-grain rollups', async () => {
    const days = generate({ jobInTwoDays: false });
    // Day 2's events of job 5 (a renamed host among them) move to day 3: the rename is day 2's.
    const moved = days[1]!.events.filter((e) => e.job_remote_id === '5');
    expect(moved.some((e) => e.host_name === 'host-0.example.com' || e.host_name === 'host-3.example.com')).toBe(true);
    days[1]!.events = days[1]!.events.filter((e) => e.job_remote_id !== '5');
    days[2]!.events.push(...moved);
    const { ship, storage, rawCells } = await rolledUp('moved', days);
    const fromRollups = await report(storage);
    expect(fromRollups.read?.days).toEqual({ rollup: DAYS, raw: [] });
    expect(readOf(fromRollups, 'usage_content')).toHaveLength(0);
    expect(readOf(fromRollups, 'main_jobevent')).toHaveLength(3);
    expect(await workbookCells(join(ship, fromRollups.name))).toEqual(rawCells);
  });

  it('a stale day: read from its tarball beside the others\' rollups, the same cells', async () => {
    const days = generate({ jobInTwoDays: false });
    const { ship, storage } = await rolledUp('stale', days);
    // Day 3's tarball changes after its rollup: that day is read raw.
    days[2]!.events.push({ ...days[2]!.events[0]!, id: '999999', duration: '1.500000' });
    writeTarballs(ship, days, INSTALL, 2);
    const mixed = await report(storage);
    expect(mixed.read?.days).toEqual({ rollup: DAYS.slice(0, 2), raw: DAYS.slice(2) });
    expect(readOf(mixed, 'usage_content')).toHaveLength(0);
    expect(readOf(mixed, 'usage_content_month_to_date')).toHaveLength(0);
    expect(await contentSheets(join(ship, mixed.name))).toEqual(expected(days, INSTALL));
    const raw = await report(storage, 'raw');
    expect(await workbookCells(join(ship, mixed.name))).toEqual(await workbookCells(join(ship, raw.name)));
  });

  // A job in two rollup days; and over 63 (collection, role, module) triples (counted per sheet key, not by bits).
  it.each([
    ['a job in two days', { jobInTwoDays: true }],
    ['80 extra modules', { modules: 80 }],
  ] as const)("a stale day beside the others' rollups (%s): its events and their rollup rows are each read once, by the statement grouping them into lists", async (name, opts) => {
    const days = generate(opts);
    const triples = new Set(days.flatMap((d) => d.events).filter((e) => e.task_action && e.host_name).map((e) => `${e.resolved_action || e.task_action}\u0000${e.resolved_role || e.role}`));
    expect(triples.size > 63).toBe('modules' in opts);
    const { ship, storage } = await rolledUp(`stale-once-${name.replaceAll(' ', '-')}`, days);
    days[2]!.events.push({ ...days[2]!.events[0]!, id: '999999', duration: '1.500000' });
    writeTarballs(ship, days, INSTALL, 2);
    Object.assign(recorded, { on: true, statements: [] });
    const mixed = await report(storage).finally(() => {
      recorded.on = false;
    });
    expect(mixed.read?.days).toEqual({ rollup: DAYS.slice(0, 2), raw: DAYS.slice(2) });
    expect(readOf(mixed, 'main_jobevent')).toHaveLength(2);
    const statements = recorded.statements.flat();
    const readsEvents = statements.filter((sql) => /main_jobevent\.csv/.test(sql));
    const readsRollupRows = statements.filter((sql) => /read_parquet\(\[[^\]]*\/main_jobevent\//.test(sql) && !/parquet_(file_metadata|schema)/.test(sql));
    expect(readsEvents).toHaveLength(1);
    // Besides the lists, the rollup rows' installs (one column, a few values) are looked up first.
    const [installs, ...rest] = readsRollupRows;
    expect(installs).toMatch(/^SELECT DISTINCT install_uuid AS u FROM/);
    expect(rest).toEqual(readsEvents);
    expect(readsEvents[0]).toMatch(/^CREATE OR REPLACE TEMP TABLE "content_event_lists" AS/);
    expect(statements.filter((sql) => /^CREATE OR REPLACE TABLE report_content AS/.test(sql))).toHaveLength(1);
    expect(await contentSheets(join(ship, mixed.name))).toEqual(expected(days, INSTALL));
    const raw = await report(storage, 'raw');
    expect(await workbookCells(join(ship, mixed.name))).toEqual(await workbookCells(join(ship, raw.name)));
  });
});
