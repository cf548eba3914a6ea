// The native CSV preparer's Parquet file, read back by DuckDB: every value equals what DuckDB's strict read_csv of the
// raw file gives for the written columns (text as it is, counts cast to BIGINT, timestamps as the `+00` text's instant).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDuckDb, type TallyDuckDb } from '@tally/dataframes';
import { type CsvFieldKind, csvPrepareNative, prepareCsvFile } from '@tally/extractors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
let db: TallyDuckDb;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-prepared-parquet-'));
  db = await openDuckDb({ memoryLimit: '512MB', threads: 2 });
});
afterAll(async () => {
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

const HEADER = ['id', 'created', 'host', 'ok', 'note', 'job_created', 'failures', 'extra'];
const KINDS: CsvFieldKind[] = ['skip', 'timestamp', 'text', 'count', 'text', 'timestamp', 'count', 'skip'];
const TEXTS = ['host', 'note'];
const COUNTS = ['ok', 'failures'];
const TIMESTAMPS = ['created', 'job_created'];

/** Text fields of every kind the preparer decodes: empty, quoted empty, spaces, `""` escapes, commas, newlines,
 * non-ASCII, tabs and other control bytes. */
function textField(i: number): string {
  switch (i % 10) {
    case 0:
      return '';
    case 1:
      return '""';
    case 2:
      return ' ';
    case 3:
      return `"a ""b"", c${i}"`;
    case 4:
      return `"line ${i}\nnext line, ""quoted""\n"`;
    case 5:
      return `é中😀-${i}`;
    case 6:
      return '""""';
    case 7:
      return `"${i}"`;
    case 8:
      return i % 20 === 8 ? ` host-${i}.example.com ` : `\ttab\x01${i}\x0b\x7f`;
    default:
      return `host-${i}.example.com`;
  }
}

function countField(i: number): string {
  if (i % 6 === 0) return '';
  if (i % 97 === 0) return i % 2 ? '-123456789012345' : '123456789012345';
  return String(i % 5 === 0 ? -i : i % 1000);
}

/** `YYYY-MM-DD HH:MM:SS[.f{0,6}]+00` around 2024-03-01 (and before 1970 now and then), or empty. */
function timestampField(i: number, shift: number): string {
  if ((i + shift) % 8 === 0) return '';
  const ms = (i % 50 === 0 ? Date.UTC(1969, 0, 1) : Date.UTC(2024, 2, 1)) + i * 431 + shift;
  const digits = (i + shift) % 7;
  const fraction = digits ? `.${String((i * 7919) % 1_000_000).padStart(6, '0').slice(0, digits)}` : '';
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}${fraction}+00`;
}

function csv(rows: number): string {
  const lines = [HEADER.join(',')];
  for (let i = 0; i < rows; i++) {
    const fields = [String(i), timestampField(i, 0), textField(i), countField(i), textField(i + 3), timestampField(i, 5), countField(i + 1), `"x,${i}"`];
    lines.push(fields.join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** The raw file as DuckDB's strict CSV reader gives it, all VARCHAR. */
function rawCsv(path: string): string {
  const columns = HEADER.map((name) => `'${name}': 'VARCHAR'`).join(', ');
  return `read_csv('${path}', header = true, auto_detect = false, delim = ',', quote = '"', escape = '"', columns = {${columns}})`;
}

/** Prepares `rows` generated rows; the raw CSV's and the Parquet file's paths. */
async function prepared(name: string, rows: number): Promise<{ raw: string; parquet: string }> {
  const raw = join(dir, `${name}.csv`);
  const parquet = join(dir, `${name}.parquet`);
  await writeFile(raw, csv(rows));
  expect(await prepareCsvFile(raw, parquet, HEADER, KINDS)).toEqual({ rows });
  return { raw, parquet };
}

describe.runIf(csvPrepareNative)('the prepared Parquet file, read by DuckDB', () => {
  it('has the written columns, in header order, as VARCHAR and BIGINT', async () => {
    const { parquet } = await prepared('types', 3);
    const columns = await db.all<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM read_parquet('${parquet}')`);
    expect(columns.map((c) => [c.column_name, c.column_type])).toEqual([
      ['created', 'BIGINT'],
      ['host', 'VARCHAR'],
      ['ok', 'BIGINT'],
      ['note', 'VARCHAR'],
      ['job_created', 'BIGINT'],
      ['failures', 'BIGINT'],
    ]);
  });

  it('every value equals the strict read_csv of the raw file, over two row groups', async () => {
    const rows = 122_880 + 1_234;
    const { raw, parquet } = await prepared('values', rows);
    const groups = await db.all<{ n: bigint }>(`SELECT count(DISTINCT row_group_id) AS n FROM parquet_metadata('${parquet}')`);
    expect(Number(groups[0]?.n)).toBe(2);
    const differs = [
      ...TEXTS.map((c) => `r.${c} IS DISTINCT FROM p.${c}`),
      ...COUNTS.map((c) => `CAST(r.${c} AS BIGINT) IS DISTINCT FROM p.${c}`),
      ...TIMESTAMPS.map((c) => `CAST(r.${c} AS TIMESTAMP) IS DISTINCT FROM make_timestamp(p.${c})`),
    ].join(' OR ');
    const [result] = await db.all<{ n: bigint; parquet: bigint; raw: bigint; different: bigint }>(
      `SELECT count(*) AS n, count(p.created) AS parquet, count(r.id) AS raw, count(*) FILTER (WHERE ${differs}) AS different
       FROM ${rawCsv(raw)} r POSITIONAL JOIN read_parquet('${parquet}') p`,
    );
    expect(result).toEqual({ n: BigInt(rows), parquet: BigInt(rows - Math.ceil(rows / 8)), raw: BigInt(rows), different: 0n });
    // the cases were there: NULL texts (empty, quoted or not), decoded quotes and newlines, negative and empty counts
    const [seen] = await db.all<Record<string, bigint>>(
      `SELECT count(*) FILTER (WHERE host IS NULL) AS null_hosts, count(*) FILTER (WHERE host = '"') AS quotes,
         count(*) FILTER (WHERE note LIKE 'line %' AND contains(note, chr(10)) AND contains(note, '"quoted"')) AS multi_line,
         count(*) FILTER (WHERE starts_with(host, chr(9) || 'tab' || chr(1))) AS control_bytes,
         count(*) FILTER (WHERE host LIKE ' host-%') AS spaces, count(*) FILTER (WHERE host LIKE 'é中😀-%') AS non_ascii,
         count(*) FILTER (WHERE ok < 0) AS negative, count(*) FILTER (WHERE ok IS NULL) AS null_counts,
         count(*) FILTER (WHERE job_created < 0) AS before_1970
       FROM read_parquet('${parquet}')`,
    );
    for (const [what, n] of Object.entries(seen ?? {})) expect(Number(n), what).toBeGreaterThan(100);
  });

  it('a file of no rows: its columns and no row', async () => {
    const { parquet } = await prepared('empty', 0);
    const [result] = await db.all<{ n: bigint }>(`SELECT count(*) AS n FROM read_parquet('${parquet}')`);
    expect(result?.n).toBe(0n);
    const columns = await db.all<{ column_name: string }>(`DESCRIBE SELECT * FROM read_parquet('${parquet}')`);
    expect(columns.map((c) => c.column_name)).toEqual(['created', 'host', 'ok', 'note', 'job_created', 'failures']);
  });
});
