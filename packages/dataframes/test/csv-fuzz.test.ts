import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobHostSummary, loadTarballs, openDuckDb, rollup, type TallyDuckDb } from '@tally/dataframes';
import { CsvError } from '../src/csv.js';
import { extractTarball } from '@tally/extractors';
import { packTarball } from '@tally/testkit';
import { DirectoryStorage } from '@tally/storage';
import { metricsUtilityTarballs, seededRandom } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
let db: TallyDuckDb;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-csv-fuzz-'));
  db = await openDuckDb({ memoryLimit: '256MB', threads: 2 });
});
afterAll(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

/** Positions of `ch` in `text`. */
const positions = (text: string, ch: string) => [...text].flatMap((c, i) => (c === ch ? [i] : []));

/**
 * A mutated CSV; `prefix`, for a cut, is the original up to the cut row: a CSV cut inside its last
 * field reads as a shorter file (a valid CSV need not end with a line break), so only the rows
 * before the cut can be compared.
 */
type Mutation = { text: string; what: string; prefix?: string };

/**
 * One structural mutation of `text` (a CSV without quoted line breaks): insert or delete a quote,
 * a comma or a line break, cut the text inside a row, or repeat a line.
 */
function mutate(text: string, r: ReturnType<typeof seededRandom>): Mutation {
  const at = r.int(1, text.length - 1);
  const op = r.int(0, 7);
  const remove = (ch: string): Mutation => {
    const all = positions(text, ch);
    if (all.length === 0) return { text: `${text.slice(0, at)}${ch}${text.slice(at)}`, what: `insert ${JSON.stringify(ch)} at ${at}` };
    const i = all[r.int(0, all.length - 1)]!;
    return { text: text.slice(0, i) + text.slice(i + 1), what: `delete ${JSON.stringify(ch)} at ${i}` };
  };
  switch (op) {
    case 0:
    case 1:
    case 2: {
      const ch = ['"', ',', '\n'][op]!;
      return { text: `${text.slice(0, at)}${ch}${text.slice(at)}`, what: `insert ${JSON.stringify(ch)} at ${at}` };
    }
    case 3:
      return remove('"');
    case 4:
      return remove(',');
    case 5:
      return remove('\n');
    case 6: {
      // Inside a row: not right after a line break, not at the very end.
      let cut = at;
      while (cut > 1 && (text[cut - 1] === '\n' || cut >= text.length - 1)) cut--;
      return { text: text.slice(0, cut), what: `truncate at ${cut}`, prefix: text.slice(0, text.lastIndexOf('\n', cut - 1) + 1) };
    }
    default: {
      const lines = text.split('\n');
      const i = r.int(1, lines.length - 2);
      return { text: [...lines.slice(0, i + 1), ...lines.slice(i)].join('\n'), what: `repeat line ${i + 1}` };
    }
  }
}

/** Multiset difference a − b of JSON strings. */
function minus(a: readonly string[], b: readonly string[]): string[] {
  const left = new Map<string, number>();
  for (const x of b) left.set(x, (left.get(x) ?? 0) + 1);
  return a.filter((x) => {
    const n = left.get(x) ?? 0;
    if (n > 0) left.set(x, n - 1);
    return n === 0;
  });
}

/** A row as read (prepared, not grouped), without its install_uuid. */
const rowKey = ({ install_uuid: _, ...rest }: Record<string, unknown>) => JSON.stringify(rest, (_k, v) => (typeof v === 'bigint' ? Number(v) : v));

describe('fuzzed job_host_summary.csv', () => {
  it('a few hundred seeded mutations: each CSV is refused and named, or its rows differ in the mutated row at most', async () => {
    const fixture = metricsUtilityTarballs();
    const name = fixture.names.find((n) => n.startsWith('data/2024/03/18/'))!;
    const extracted = await extractTarball(join(fixture.base, name));
    const original = await readFile(extracted.file('job_host_summary.csv')!, 'utf8');
    await extracted.release();
    // The fixture has no quoted field; a variant quotes every template name (a comma and quotes inside).
    const quoted = original.replace(/,test template,/g, ',"test, ""template""",');
    expect(quoted).not.toBe(original);
    const bases = [original, quoted];
    const r = seededRandom(19);
    const mutations = Array.from({ length: 300 }, (_, i) => ({ ...mutate(bases[i % 2]!, r), of: i % 2, uuid: `m-${i}` }));

    // Each CSV read as the loaders read a tarball's member (strict, all or nothing), rows by install_uuid.
    const jhs = new JobHostSummary(db, { reachableOnly: false });
    const read = async (text: string, uuid: string) => {
      const path = join(dir, `${uuid}.csv`);
      await writeFile(path, text);
      try {
        await jhs.addCsv(path, { installUuid: uuid, source: uuid, member: 'job_host_summary.csv' });
        return undefined;
      } catch (err) {
        return err;
      }
    };
    expect(await read(original, 'orig-0')).toBeUndefined();
    expect(await read(quoted, 'orig-1')).toBeUndefined();
    const verdicts = new Map<string, unknown>();
    for (const m of mutations) {
      verdicts.set(m.uuid, await read(m.text, m.uuid));
      if (m.prefix !== undefined) expect(await read(m.prefix, `${m.uuid}-prefix`)).toBeUndefined();
    }
    const rows = new Map<string, string[]>();
    for (const row of await db.all<Record<string, unknown>>(`SELECT * FROM ${jhs.rawTable}`)) {
      const key = String(row.install_uuid);
      rows.set(key, [...(rows.get(key) ?? []), rowKey(row)]);
    }
    const originals = [rows.get('orig-0')!, rows.get('orig-1')!];
    expect(originals.map((o) => o.length)).toEqual([12, 12]);

    let refused = 0;
    for (const m of mutations) {
      const err = verdicts.get(m.uuid);
      if (err) {
        refused += 1;
        expect(err, m.what).toBeInstanceOf(CsvError);
        expect(err, m.what).toMatchObject({ file: m.uuid, member: 'job_host_summary.csv', line: expect.any(Number) });
        expect(rows.has(m.uuid), m.what).toBe(false);
        continue;
      }
      const got = rows.get(m.uuid) ?? [];
      const orig = m.prefix === undefined ? originals[m.of]! : (rows.get(`${m.uuid}-prefix`) ?? []);
      expect(minus(orig, got).length, `${m.what}: rows lost`).toBeLessThanOrEqual(1);
      expect(minus(got, orig).length, `${m.what}: rows changed or added`).toBeLessThanOrEqual(1);
    }
    // Both outcomes occur.
    expect(refused).toBeGreaterThan(mutations.length / 4);
    expect(refused).toBeLessThan(mutations.length);

    // As tarballs next to the original, the first few dozen get the same verdicts from the
    // loader (one batch, then tarball by tarball) and from a rollup; the original loads.
    const base = join(dir, 'lake');
    const day = 'data/2024/03/18';
    const pack = (file: string, uuid: string, csv: string) =>
      packTarball(join(base, day, file), [
        { name: 'job_host_summary.csv', content: csv },
        { name: 'config.json', content: JSON.stringify({ install_uuid: uuid }) },
      ]);
    const some = mutations.slice(0, 24);
    await pack('a-original.tar.gz', 'orig-0', original);
    for (const m of some) await pack(`${m.uuid}.tar.gz`, m.uuid, m.text);
    const storage = new DirectoryStorage({ base });
    const window = { since: new Date('2024-03-18Z'), until: new Date('2024-03-19Z') };
    const expected = some
      .filter((m) => verdicts.get(m.uuid))
      .map((m) => ({ file: `${day}/${m.uuid}.tar.gz`, error: (verdicts.get(m.uuid) as Error).message.slice(m.uuid.length + 2) }))
      .sort((x, y) => (x.file < y.file ? -1 : 1));
    expect(expected.length).toBeGreaterThan(0);
    const loaded = await loadTarballs([new JobHostSummary(db)], { storage, ...window });
    expect(loaded.failures.map((f) => ({ file: f.file, error: f.error }))).toEqual(expected);
    expect(loaded.tarballs).toContain(`${day}/a-original.tar.gz`);
    const rolled = await rollup({ storage, ...window, period: 'day', kinds: ['job_host_summary'], duckdb: { memoryLimit: '256MB', threads: 2 } });
    expect(rolled.failures).toEqual(loaded.failures);
  }, 120_000);
});
