/**
 * JobHostSummary groups in two passes: groups of one row are reshaped, only the others are
 * aggregated (`group()`), or every row is written reshaped and only the others regrouped
 * (`groupToParquet`). These tests hold that against the one-pass aggregation on random rows full of
 * repeats: the same row delivered twice, DIRECT and INDIRECT rows of one index, NULL job ids
 * and hosts, renamed hosts. Also when the fingerprint collides on purpose.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobHostSummary, openDuckDb, type TallyDuckDb } from '@tally/dataframes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The one-pass aggregation of every row (what the two passes must equal). */
class OnePass extends JobHostSummary {
  protected override aggregateSelect(from: string): Promise<string> {
    return Promise.resolve(this.aggregateSql(from));
  }
}

/** Two passes with a fingerprint that many different indexes share. */
class Colliding extends JobHostSummary {
  protected override get fingerprint(): string {
    return 'COALESCE(job_remote_id, 0) % 3';
  }
}

const JHS_HEADER =
  'id,created,modified,host_name,host_remote_id,ansible_host_variable,ansible_connection_variable,changed,dark,failures,ok,processed,skipped,failed,ignored,rescued,job_created,job_remote_id,job_template_remote_id,job_template_name,inventory_remote_id,inventory_name,organization_remote_id,organization_name,project_remote_id,project_name';
const AUDIT_HEADER =
  'id,created,host_name,host_remote_id,canonical_facts,facts,events,task_runs,job_created,job_remote_id,job_template_remote_id,job_template_name,inventory_remote_id,inventory_name,organization_remote_id,organization_name,project_remote_id,project_name';

function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let dir: string;
let db: TallyDuckDb;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-jhs-groups-test-'));
  db = await openDuckDb({ memoryLimit: '256MB', threads: 2 });
});
afterAll(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

interface Data {
  /** job_host_summary CSVs with their install uuid; a path may come twice (delivered twice). */
  direct: { path: string; install: string | null }[];
  audits: { path: string; install: string | null }[];
}

let files = 0;
async function write(lines: string[]): Promise<string> {
  const path = join(dir, `f${++files}.csv`);
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

/**
 * Random rows over small domains, so that indexes repeat. `jobs` bounds the job ids; audits use
 * jobs from `auditJobs` (disjoint from `jobs` to get INDIRECT rows no DIRECT row shares).
 */
async function makeData(seed: number, opts: { rows: number; jobs: number; nullJobs: boolean; auditJobs: number[]; repeat: boolean }): Promise<Data> {
  const r = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const ts = () => `2024-03-0${1 + Math.floor(r() * 9)} ${String(Math.floor(r() * 24)).padStart(2, '0')}:${pick(['00', '17', '42'])}:00${pick(['+00', '.5+00', '+02'])}`;
  const job = () => (opts.nullJobs && r() < 0.1 ? '' : String(1 + Math.floor(r() * opts.jobs)));
  const org = () => pick(['A', 'B', '']);
  const tpl = () => pick(['T1', 'T2']);
  const direct: Data['direct'] = [];
  for (const install of ['u1', 'u2', null]) {
    const lines = [JHS_HEADER];
    for (let i = 0; i < opts.rows; i++) {
      const host = pick(['h1', 'h2', 'h3', 'h4', '']);
      const alias = pick(['', '', '', 'h1', 'alias']);
      const n = () => String(Math.floor(r() * 3));
      lines.push(
        `${i},${ts()},x,${host},1,${alias},ssh,0,${n()},${n()},${n()},1,${n()},f,${n()},0,${pick([ts(), ''])},${job()},7,${tpl()},1,I,1,${org()},6,P`,
      );
    }
    const path = await write(lines);
    direct.push({ path, install });
    if (opts.repeat && install === 'u1') direct.push({ path, install });
  }
  const audit = [AUDIT_HEADER];
  for (let i = 0; i < 40; i++) {
    const facts = pick(['"{""serial"": ""S1""}"', '"{""serial"": ""S2"", ""cpu"": 4}"', '{}']);
    const events = pick(['"[""a.b.c""]"', '"[""x.y.z"", ""a.b.c""]"', '[]']);
    audit.push(
      `${i},${ts()},${pick(['h1', 'h2', 'alias'])},,${facts},${facts},${events},${Math.floor(r() * 4)},${ts()},${pick(opts.auditJobs)},7,${tpl()},1,I,1,${org()},6,P`,
    );
  }
  return { direct, audits: [{ path: await write(audit), install: 'u1' }] };
}

async function add(df: JobHostSummary, data: Data): Promise<void> {
  for (const f of data.direct) await df.addCsv(f.path, { installUuid: f.install });
  for (const f of data.audits) await df.addCsv(f.path, { member: 'main_indirectmanagednodeaudit.csv', installUuid: f.install });
}

async function grouped(df: JobHostSummary, data: Data): Promise<Record<string, unknown>[]> {
  await add(df, data);
  await df.group();
  const rows = await df.rows();
  await df.drop();
  return rows;
}

/** Every row of a Parquet file, in index order, as DuckDB reads it back. */
async function parquetRows(df: JobHostSummary, path: string): Promise<Record<string, unknown>[]> {
  const order = df.indexColumns.map((c) => `${c} NULLS LAST`).join(', ');
  return db.all(`SELECT * FROM read_parquet('${path}') ORDER BY ${order}`);
}

/** `groupToParquet` (unordered, as a rollup writes it), read back. */
async function groupedParquet(df: JobHostSummary, data: Data, ordered = false): Promise<Record<string, unknown>[]> {
  await add(df, data);
  const path = join(dir, `g${++files}.parquet`);
  const written = await df.groupToParquet(path, { ordered });
  const rows = await parquetRows(df, path);
  expect(written).toBe(rows.length);
  await df.drop();
  return rows;
}

/** The one-pass aggregation into a table, then written to Parquet and read back. */
async function onePassParquet(data: Data): Promise<Record<string, unknown>[]> {
  const df = new OnePass(db);
  await add(df, data);
  await df.group();
  const path = join(dir, `g${++files}.parquet`);
  await df.toParquet(path);
  const rows = await parquetRows(df, path);
  await df.drop();
  return rows;
}

describe('JobHostSummary grouping in two passes', () => {
  it.each([
    ['rows delivered twice, INDIRECT rows sharing DIRECT indexes', 1, { rows: 300, jobs: 6, nullJobs: true, auditJobs: [1, 2, 3], repeat: true }],
    ['only INDIRECT rows have company (their jobs have no DIRECT row)', 2, { rows: 40, jobs: 400, nullJobs: false, auditJobs: [1001, 1002], repeat: false }],
    ['no index repeats at all', 3, { rows: 40, jobs: 1_000_000, nullJobs: false, auditJobs: [], repeat: false }],
  ] as const)('equals the one-pass aggregation: %s', async (_label, seed, opts) => {
    const data = await makeData(seed, { ...opts, auditJobs: [...opts.auditJobs] });
    if (opts.auditJobs.length === 0) data.audits = [];
    const expected = await grouped(new OnePass(db), data);
    expect(expected.length).toBeGreaterThan(20);
    expect(await grouped(new JobHostSummary(db), data)).toEqual(expected);
    expect(await grouped(new Colliding(db), data)).toEqual(expected);

    const expectedParquet = await onePassParquet(data);
    expect(expectedParquet).toHaveLength(expected.length);
    expect(await groupedParquet(new JobHostSummary(db), data)).toEqual(expectedParquet);
    expect(await groupedParquet(new Colliding(db), data)).toEqual(expectedParquet);
    expect(await groupedParquet(new JobHostSummary(db), data, true)).toEqual(expectedParquet);
  });

  it('counts each kind of group as the reference does', async () => {
    const data = await makeData(1, { rows: 300, jobs: 6, nullJobs: true, auditJobs: [1, 2, 3], repeat: true });
    const rows = await grouped(new JobHostSummary(db), data);
    // The twice-delivered file doubles its rows' runs; INDIRECT members join their DIRECT group.
    expect(rows.some((r) => Number(r.host_runs) >= 2)).toBe(true);
    expect(rows.some((r) => (r.managed_node_types_set as string[]).join() === 'DIRECT,INDIRECT')).toBe(true);
    expect(rows.some((r) => (r.managed_node_types_set as string[]).join() === 'INDIRECT')).toBe(true);
    expect(rows.some((r) => r.job_remote_id === null)).toBe(true);
  });
});

describe('the job-grain Parquet a rollup writes', () => {
  it('reads back as the one-pass aggregation past the dictionary limit and over several row groups; only columns of few values get a dictionary', async () => {
    const line = (i: number) => {
      const at = `2024-03-01 ${String(Math.floor(i / 3600) % 24).padStart(2, '0')}:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}+00`;
      return `${i},${at},x,host-${i % 5000}.example.com,1,,ssh,0,0,0,${1 + (i % 7)},1,0,f,0,0,${at},${Math.floor(i / 40)},7,T${i % 300},1,I,1,O${i % 3},6,P`;
    };
    const all = Array.from({ length: 40_000 }, (_, i) => line(i));
    // A second tarball repeating some rows: those indexes are regrouped, the rest written as read.
    const data: Data = {
      direct: [
        { path: await write([JHS_HEADER, ...all]), install: 'u1' },
        { path: await write([JHS_HEADER, ...all.slice(0, 500)]), install: 'u1' },
      ],
      audits: [],
    };
    const expected = await onePassParquet(data);
    expect(expected).toHaveLength(40_000);
    const df = new JobHostSummary(db);
    await add(df, data);
    const path = join(dir, `g${++files}.parquet`);
    expect(await df.groupToParquet(path, { ordered: false })).toBe(40_000);
    expect(await parquetRows(df, path)).toEqual(expected);
    await df.drop();
    const meta = await db.all<{ col: string; enc: string; groups: bigint }>(
      `SELECT path_in_schema AS col, string_agg(DISTINCT encodings, ',') AS enc, count(DISTINCT row_group_id) AS groups FROM parquet_metadata('${path}') GROUP BY ALL`,
    );
    const enc = Object.fromEntries(meta.map((m) => [m.col, m.enc]));
    expect(Number(meta[0]!.groups)).toBeGreaterThan(1);
    expect(enc.organization_name).toBe('RLE_DICTIONARY');
    expect(enc.install_uuid).toBe('RLE_DICTIONARY');
    expect(enc.host_name).not.toContain('DICTIONARY');
    expect(enc.job_template_name).not.toContain('DICTIONARY');
    expect(enc.first_automation).toBe('DELTA_BINARY_PACKED');
  });
});
