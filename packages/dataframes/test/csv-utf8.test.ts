/**
 * A CSV holding bytes that are not UTF-8 is refused with its line, and the database stays usable:
 * DuckDB 1.5's strict read_csv fails on such a byte in a column read past the projected ones with an
 * internal error that invalidates the whole database.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { JobHostSummary, openDuckDb, type TallyDuckDb } from '@tally/dataframes';
import { type ExtractedTarball, JOB_HOST_SUMMARY_COLUMNS } from '@tally/extractors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CsvError } from '../src/csv.js';

const MEMBER = 'job_host_summary.csv';
const UUID = 'u-utf8';

/** A schema 1.2 row: `org` as organization_name, every count 1, `more` for other columns. */
function row(i: number, org: Buffer | string, more: Record<string, string | Buffer> = {}): Buffer {
  const values: Record<string, string | Buffer> = {
    id: String(i), created: '2024-03-01 10:00:00.5+00', modified: '2024-03-01 10:00:00+00', host_name: `host-${i}`,
    job_created: '2024-03-01 09:59:00+00', job_remote_id: '7', job_template_name: 'T', organization_name: org, ...more,
  };
  const fields = JOB_HOST_SUMMARY_COLUMNS.map((c) => values[c] ?? (/^(dark|failures|ok|skipped|ignored|rescued|changed|processed)$/.test(c) ? '1' : ''));
  return Buffer.concat([...fields.flatMap((f, k) => [k ? Buffer.from(',') : Buffer.alloc(0), Buffer.from(f)]), Buffer.from('\n')]);
}

function csv(rows: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from(`${JOB_HOST_SUMMARY_COLUMNS.join(',')}\n`), ...rows]);
}

let dir: string;
let db: TallyDuckDb;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-utf8-'));
  db = await openDuckDb();
});
afterAll(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, bytes: Buffer): Promise<string> {
  const path = join(dir, name);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
  return path;
}

function tarball(sub: string): ExtractedTarball {
  const files = new Map([[MEMBER, join(dir, sub, MEMBER)]]);
  return {
    name: `${sub}.tar.gz`, dir: join(dir, sub), files, file: (m) => files.get(m),
    config: async () => JSON.parse(await readFile(join(dir, sub, 'config.json'), 'utf8')) as Record<string, unknown>,
    release: async () => {}, [Symbol.asyncDispose]: async () => {},
  };
}

describe('CSV bytes that are not UTF-8', () => {
  it('refuse the file with their line, in a column read (the case that invalidated DuckDB) and in one not read', async () => {
    const bad = await file('bad.csv', csv([row(1, 'Org'), row(2, 'Org'), row(3, Buffer.from([0x4f, 0x72, 0x67, 0xff]))]));
    const jhs = new JobHostSummary(db);
    const err = await jhs.addCsv(bad, { installUuid: UUID, member: MEMBER }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CsvError);
    expect((err as CsvError).line).toBe(4);
    expect((err as CsvError).message).toMatch(/not UTF-8/);
    // The database still takes statements, and a good file after it loads.
    const good = await file('good.csv', csv([row(1, 'Org'), row(2, 'Örg €')]));
    expect(await jhs.addCsv(good, { installUuid: UUID, member: MEMBER })).toBe(2);
    // project_name is a column no dataframe reads: refused all the same (metrics-utility's pandas read fails on it too).
    const unread = await file('unread.csv', csv([row(1, 'Org'), row(2, 'Org', { project_name: Buffer.from([0xed, 0xa0, 0x80]) })]));
    const err2 = await jhs.addCsv(unread, { installUuid: UUID, member: MEMBER }).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(CsvError);
    expect((err2 as CsvError).line).toBe(3);
  });

  it('a character cut by the 1 MiB read step is no error; a bad byte after it names its line', async () => {
    const filler = (n: number) => row(n, 'x'.repeat(1000));
    const rows: Buffer[] = [];
    let size = Buffer.byteLength(`${JOB_HOST_SUMMARY_COLUMNS.join(',')}\n`);
    for (let i = 1; size < 1024 * 1024 - 1200; i++) {
      rows.push(filler(i));
      size += rows.at(-1)!.length;
    }
    // A row whose '€' (3 bytes) straddles the step, however the row starts.
    const start = 1024 * 1024 - size;
    rows.push(...[0, 1, 2].map((k) => row(rows.length + 1 + k, `${'y'.repeat(Math.max(0, start - 40 - k))}€€€`)));
    const good = await file('straddle.csv', csv(rows));
    const jhs = new JobHostSummary(db);
    expect(await jhs.addCsv(good, { installUuid: UUID, member: MEMBER })).toBe(rows.length);
    const bad = await file('late.csv', csv([...rows, row(rows.length + 1, Buffer.from([0xe2, 0x82]))]));
    const err = await jhs.addCsv(bad, { installUuid: UUID, member: MEMBER }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CsvError);
    expect((err as CsvError).line).toBe(rows.length + 2);
  });

  it('refuse a tarball read in a batch (the preparer refuses it, the strict read names it)', async () => {
    for (const [sub, org] of [['t-good', Buffer.from('Org')], ['t-bad', Buffer.from([0xc3, 0x28])]] as const) {
      await file(`${sub}/config.json`, Buffer.from(JSON.stringify({ install_uuid: UUID })));
      await file(`${sub}/${MEMBER}`, csv([row(1, 'Org'), row(2, org)]));
    }
    const jhs = new JobHostSummary(db);
    await jhs.init();
    const err = await jhs.stageTarballs([tarball('t-good'), tarball('t-bad')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CsvError);
    expect((err as CsvError).message).toMatch(/t-bad\.tar\.gz.*line 3/s);
    await jhs.stageTarballs([tarball('t-good')]);
    await jhs.group();
    const [n] = await db.all<{ n: bigint }>(`SELECT count(*) AS n FROM ${jhs.table}`);
    expect(Number(n!.n)).toBe(2);
  });
});
