import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CsvFieldKind, csvPrepareNative, prepareCsvFile } from '@tally/extractors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let root: string;
let serial = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tally-csv-prepare-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

type Prepared = { out: string; rows: number } | { refused: string };

/** Prepares `input` (text or bytes) with the given columns; the output text, or the refusal (and then no output file). */
async function prepare(input: string | Buffer, header: string[], kinds: CsvFieldKind[]): Promise<Prepared> {
  const n = serial++;
  const src = join(root, `in-${n}.csv`);
  const dst = join(root, `out-${n}.csv`);
  await writeFile(src, input);
  const result = await prepareCsvFile(src, dst, header, kinds);
  if ('refused' in result) {
    expect(existsSync(dst), 'a refusal leaves no output').toBe(false);
    return result;
  }
  return { out: await readFile(dst, 'utf8'), rows: result.rows };
}

const H = ['id', 'created', 'host', 'ok', 'note'];
const K: CsvFieldKind[] = ['skip', 'timestamp', 'text', 'count', 'skip'];
const HEAD = 'id,created,host,ok,note\n';

/** One data row after HEAD: its output, or its refusal. */
async function row(line: string): Promise<Prepared> {
  return prepare(HEAD + line, H, K);
}

async function refusal(input: string | Buffer, header = H, kinds = K): Promise<string> {
  const result = await prepare(input, header, kinds);
  expect(result, 'expected a refusal').toHaveProperty('refused');
  return (result as { refused: string }).refused;
}

it('csvPrepareNative is true wherever a C compiler is on PATH (a broken build cannot pass silently)', async () => {
  const hasCompiler = spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;
  if (hasCompiler) expect(csvPrepareNative).toBe(true);
  // Without the addon every input is refused, so callers read the raw file as before.
  if (!csvPrepareNative) expect(await prepare(`${HEAD}1,,h,1,n\n`, H, K)).toEqual({ refused: 'native CSV preparation is not built' });
});

describe.runIf(csvPrepareNative)('accepted input', () => {
  it('keeps the non-skip columns, counts verbatim, timestamps as epoch microseconds', async () => {
    const input = `${HEAD}1,2024-03-01 00:00:00+00,h1,14,x\n2,2024-03-01 00:00:00.431+00,h2,-7,y\n3,,h3,,\n`;
    expect(await prepare(input, H, K)).toEqual({
      out: 'created,host,ok\n1709251200000000,h1,14\n1709251200431000,h2,-7\n,h3,\n',
      rows: 3,
    });
  });

  it('timestamps: fractions of 1 to 6 digits, leap days, before 1970, the year bounds', async () => {
    const cases: [string, string][] = [
      ['2024-03-01 00:00:00.4+00', '1709251200400000'],
      ['2024-03-01 00:00:00.000001+00', '1709251200000001'],
      ['2024-03-01 00:00:00.123456+00', '1709251200123456'],
      ['2024-02-29 23:59:59+00', '1709251199000000'],
      ['2000-02-29 12:00:00+00', '951825600000000'],
      ['1969-12-31 23:59:59.5+00', '-500000'],
      ['1970-01-01 00:00:00+00', '0'],
      ['1000-01-01 00:00:00+00', '-30610224000000000'],
      ['9999-12-31 23:59:59.999999+00', '253402300799999999'],
    ];
    for (const [ts, micros] of cases) expect(await row(`1,${ts},h,1,n`), ts).toEqual({ out: `created,host,ok\n${micros},h,1\n`, rows: 1 });
  });

  it('counts: 1 to 15 digits, a minus sign, leading zeros, empty', async () => {
    for (const count of ['0', '-0', '007', '123456789012345', '-123456789012345', ''])
      expect(await row(`1,,h,${count},n`), count).toEqual({ out: `created,host,ok\n,h,${count}\n`, rows: 1 });
  });

  it('quoted text with "", commas and newlines inside is written verbatim; quoted skip fields are dropped', async () => {
    const input = `${HEAD}1,,"a ""quoted"", 
multi-line host",3,"skip, ""me""
too"\n"2",,"",4,""\n`;
    expect(await prepare(input, H, K)).toEqual({
      out: `created,host,ok\n,"a ""quoted"", \nmulti-line host",3\n,"",4\n`,
      rows: 2,
    });
  });

  it('tabs and other control bytes (but \\r and NUL) in text', async () => {
    expect(await row('1,,a\tb\x01\x0b\x7f,1,\t\n')).toEqual({ out: 'created,host,ok\n,a\tb\x01\x0b\x7f,1\n', rows: 1 });
  });

  it('non-ASCII text, valid UTF-8 of every length, in text and skip columns', async () => {
    const input = `${HEAD}1,,é中😀ÿ,1,"€ ""ü"""\n`;
    expect(await prepare(input, H, K)).toEqual({ out: 'created,host,ok\n,é中😀ÿ,1\n', rows: 1 });
  });

  it('a last row without a newline, a header-only file, and a header-only file without rows written', async () => {
    expect(await prepare(`${HEAD}1,,h,2,n`, H, K)).toEqual({ out: 'created,host,ok\n,h,2\n', rows: 1 });
    expect(await prepare(`${HEAD}1,,h,2,"n"`, H, K)).toEqual({ out: 'created,host,ok\n,h,2\n', rows: 1 });
    expect(await prepare(HEAD, H, K)).toEqual({ out: 'created,host,ok\n', rows: 0 });
  });

  it('a row of exactly 1,000,000 bytes is accepted', async () => {
    const note = 'n'.repeat(1_000_000 - '1,,h,1,'.length);
    expect(await row(`1,,h,1,${note}\n`)).toEqual({ out: 'created,host,ok\n,h,1\n', rows: 1 });
  });
});

describe.runIf(csvPrepareNative)('refused input', () => {
  it('counts outside -?[0-9]{1,15}, and a quoted count', async () => {
    for (const count of ['2.5', '1e3', ' 5', '5 ', '+5', '-', '1234567890123456', '"5"', '0x10', '１'])
      expect(await refusal(`${HEAD}1,,h,${count},n\n`), count).toMatch(/^line 2: column ok: .* is not a count this preparer accepts/);
  });

  it('timestamps outside the one accepted form', async () => {
    for (const ts of [
      '2024-03-01 00:00:00+02',
      '2024-03-01 00:00:00.1234567+00',
      '2023-02-29 00:00:00+00',
      '2024-02-30 00:00:00+00',
      '2024-04-31 00:00:00+00',
      '2024-03-01 24:00:00+00',
      '2024-03-01 23:60:00+00',
      '2024-03-01 23:59:60+00',
      '2024-00-01 00:00:00+00',
      '2024-13-01 00:00:00+00',
      '2024-03-00 00:00:00+00',
      '0999-12-31 00:00:00+00',
      '2024-03-01T00:00:00+00',
      '2024-03-01 00:00:00',
      '2024-03-01 00:00:00Z',
      '2024-03-01 00:00:00.+00',
      '2024-03-01 00:00:00+0000',
      '2024-03-01 00:00:00+00 ',
      '2024-3-01 00:00:00+00',
      '"2024-03-01 00:00:00+00"',
    ])
      expect(await refusal(`${HEAD}1,${ts},h,1,n\n`), ts).toMatch(/^line 2: column created: .* is not a timestamp this preparer accepts/);
    expect(await refusal(`${HEAD}1,,h,1,n\n1,2024-02-30 00:00:00+00,h,1,n\n`)).toBe(
      'line 3: column created: "2024-02-30 00:00:00+00" is not a timestamp this preparer accepts',
    );
  });

  it('a header that is not exactly header.join(",") and a newline', async () => {
    for (const input of [
      '',
      'id,created,host,ok,note',
      '\ufeffid,created,host,ok,note\n',
      'id,created,host,ok,note\r\n',
      '"id",created,host,ok,note\n',
      'id,created,host,ok\n',
      'id,created,host,ok,note,extra\n',
      'id,Created,host,ok,note\n',
    ])
      expect(await refusal(input), JSON.stringify(input)).toMatch(/^line 1: /);
    expect(await refusal(HEAD, H, K.slice(1))).toMatch(/kinds for 5 header columns/);
    expect(await refusal(HEAD, ['a,b'], ['text'])).toMatch(/column name/);
    expect(await refusal('a,b\n1,2\n', ['a', 'b'], ['skip', 'skip'])).toBe('no column to write');
  });

  it('CRLF line ends, and a carriage return or NUL inside any field', async () => {
    expect(await refusal(`${HEAD}1,,h,1,n\r\n`)).toMatch(/^line 2: column note: a carriage return/);
    expect(await refusal(`${HEAD}1,,h\rx,1,n\n`)).toMatch(/^line 2: column host: a carriage return/);
    expect(await refusal(`${HEAD}1,,h,1,"a\rb"\n`)).toMatch(/^line 2: column note: a carriage return/);
    expect(await refusal(`${HEAD}1,,h\0,1,n\n`)).toMatch(/^line 2: column host: a NUL byte/);
    expect(await refusal(`${HEAD}1,,h,1,"\0"\n`)).toMatch(/^line 2: column note: a NUL byte/);
    expect(await refusal(`${HEAD}1,,h,1\0,n\n`)).toMatch(/^line 2: column ok: .* is not a count/);
  });

  it('blank lines, a trailing extra newline, and wrong field counts', async () => {
    expect(await refusal(`${HEAD}\n1,,h,1,n\n`)).toBe('line 2: a blank line');
    expect(await refusal(`${HEAD}1,,h,1,n\n\n2,,h,1,n\n`)).toBe('line 3: a blank line');
    expect(await refusal(`${HEAD}1,,h,1,n\n\n`)).toBe('line 3: a blank line');
    expect(await refusal(`${HEAD}1,,h,1\n`)).toBe('line 2: only 4 fields, expected 5');
    expect(await refusal(`${HEAD}1,,h,1`)).toBe('line 2: only 4 fields, expected 5');
    expect(await refusal(`${HEAD}1,,h,1,n,\n`)).toBe('line 2: more than 5 fields');
    expect(await refusal(`${HEAD}1,,h,1,n,x`)).toBe('line 2: more than 5 fields');
    expect(await refusal('a\n1\n\n', ['a'], ['text'])).toBe('line 3: a blank line');
  });

  it('quotes outside RFC 4180', async () => {
    expect(await refusal(`${HEAD}1,,h"x,1,n\n`)).toMatch(/^line 2: column host: .* has a quote inside an unquoted field/);
    expect(await refusal(`${HEAD}1,,h"x",1,n\n`)).toMatch(/^line 2: column host: .* has a quote inside an unquoted field/);
    expect(await refusal(`${HEAD}1,,h,1,n"x"\n`)).toMatch(/^line 2: column note: .* has a quote inside an unquoted field/);
    expect(await refusal(`${HEAD}1,, "h",1,n\n`)).toMatch(/^line 2: column host: .* has a quote inside an unquoted field/);
    expect(await refusal(`${HEAD}1,,"h"x,1,n\n`)).toMatch(/^line 2: column host: .* closing quote not followed/);
    expect(await refusal(`${HEAD}1,,h,1,"n" \n`)).toMatch(/^line 2: column note: .* closing quote not followed/);
    expect(await refusal(`${HEAD}1,,h,1,"n\n`)).toMatch(/^line 2: column note: a quoted field is not closed/);
    expect(await refusal(`${HEAD}1,,h,1,"n""`)).toMatch(/^line 2: column note: a quoted field is not closed/);
  });

  it('invalid UTF-8, also in a skipped column', async () => {
    const bad = [[0x80], [0xc0, 0xaf], [0xc3], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xff]];
    for (const bytes of bad) {
      const input = (column: 'host' | 'note') =>
        Buffer.concat([Buffer.from(`${HEAD}1,,${column === 'host' ? 'h' : 'h,1,"n'}`), Buffer.from(bytes), Buffer.from(column === 'host' ? ',1,n\n' : '"\n')]);
      expect(await refusal(input('host')), bytes.join(' ')).toMatch(/^line 2: column host: invalid UTF-8/);
      expect(await refusal(input('note')), bytes.join(' ')).toMatch(/^line 2: column note: invalid UTF-8/);
    }
  });

  it('a row longer than 1,000,000 bytes', async () => {
    const note = 'n'.repeat(1_000_001 - '1,,h,1,'.length);
    expect(await refusal(`${HEAD}1,,h,1,${note}\n`)).toBe('line 2: a row longer than 1000000 bytes');
  });

  it('names the physical line, after quoted fields that hold newlines', async () => {
    expect(await refusal(`${HEAD}1,,"a\nb",1,n\n2,,h,x,n\n`)).toMatch(/^line 4: column ok: "x" is not a count/);
  });

  it('rejects (not refuses) when the input cannot be read', async () => {
    await expect(prepareCsvFile(join(root, 'missing.csv'), join(root, 'never.csv'), H, K)).rejects.toThrow(/missing\.csv/);
  });
});

// ---------- a straightforward reference implementation of the same rules, for generated input ----------

const COUNT = /^(?:-?[0-9]{1,15})?$/;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?\+00$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Epoch microseconds of an accepted timestamp, or undefined. */
function timestampMicros(text: string): string | undefined {
  const m = TIMESTAMP.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  if (y < 1000 || back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined;
  return String(BigInt(ms) * 1000n + BigInt((m[7] ?? '').padEnd(6, '0')));
}

interface Refused {
  /** The lines (1-based) the refused row spans, as far as it was read. */
  fromLine: number;
  toLine: number;
}

/** The output the rules write, or the lines of the first row they refuse. */
function reference(bytes: Buffer, header: string[], kinds: CsvFieldKind[]): { out: Buffer } | Refused {
  const lineAt = (at: number) => 1 + bytes.subarray(0, at).filter((b) => b === 0x0a).length;
  const head = Buffer.from(`${header.join(',')}\n`);
  if (!bytes.subarray(0, head.length).equals(head)) return { fromLine: 1, toLine: 1 };
  const out: Buffer[] = [Buffer.from(`${header.filter((_, i) => kinds[i] !== 'skip').join(',')}\n`)];
  let pos = head.length;
  while (pos < bytes.length) {
    const start = pos;
    const refusedAt = (at: number): Refused => ({ fromLine: lineAt(start), toLine: lineAt(Math.min(at, bytes.length)) });
    const fields: { raw: Buffer; quoted: boolean }[] = [];
    for (let rowEnded = false; !rowEnded; ) {
      let end: number;
      const quoted = bytes[pos] === 0x22;
      if (quoted) {
        let at = pos + 1;
        for (;;) {
          const q = bytes.indexOf(0x22, at);
          if (q < 0) return refusedAt(bytes.length);
          if (bytes[q + 1] === 0x22) at = q + 2;
          else {
            end = q + 1;
            break;
          }
        }
      } else {
        end = pos;
        while (end < bytes.length && bytes[end] !== 0x2c && bytes[end] !== 0x0a) end++;
      }
      const raw = bytes.subarray(pos, end);
      if ((!quoted && raw.includes(0x22)) || (end < bytes.length && bytes[end] !== 0x2c && bytes[end] !== 0x0a)) return refusedAt(end);
      fields.push({ raw, quoted });
      rowEnded = end >= bytes.length || bytes[end] === 0x0a;
      pos = end + 1;
    }
    const refused = () => refusedAt(pos - 1);
    if (fields.length !== header.length || Math.min(pos, bytes.length + 1) - 1 - start > 1_000_000) return refused();
    if (fields.length === 1 && fields[0]?.raw.length === 0) return refused();
    const written: Buffer[] = [];
    for (const [i, { raw, quoted }] of fields.entries()) {
      let high = false;
      for (let b = 0; b < raw.length; b++) {
        if (raw[b] === 0 || raw[b] === 13) return refused();
        high ||= (raw[b] as number) >= 0x80;
      }
      try {
        if (high) strictUtf8.decode(raw);
      } catch {
        return refused();
      }
      const kind = kinds[i];
      if ((kind === 'count' || kind === 'timestamp') && quoted) return refused();
      if (kind === 'count' && !COUNT.test(raw.toString('latin1'))) return refused();
      if (kind === 'timestamp' && raw.length) {
        const micros = timestampMicros(raw.toString('latin1'));
        if (micros === undefined) return refused();
        written.push(Buffer.from(micros));
      } else if (kind !== 'skip') written.push(raw);
    }
    out.push(Buffer.from(written.map((b) => b.toString('latin1')).join(',') + '\n', 'latin1'));
  }
  return { out: Buffer.concat(out) };
}

/** A small deterministic PRNG, so a failure reproduces. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MINUTES = [
  Date.UTC(2024, 2, 1, 0, 0),
  Date.UTC(2024, 2, 1, 0, 1),
  Date.UTC(2024, 1, 29, 23, 59),
  Date.UTC(1969, 11, 31, 23, 59),
  Date.UTC(1970, 0, 1, 0, 0),
  Date.UTC(1970, 0, 1, 0, 1),
  Date.UTC(1970, 0, 1, 0, 2),
  Date.UTC(1970, 0, 1, 0, 3),
];
const PIECES = ['a', 'b', 'Z', ' ', '-', '.', '0', '7', 'é', '中', '😀', ',', '"', '\n', 'ü', 'host-', '.example.com', '\t', '\x0b', '\x7f'];

function generatedRows(rand: () => number, n: number): { header: string[]; kinds: CsvFieldKind[]; text: string } {
  // runs of adjacent text and count columns, as job_host_summary.csv has
  const kinds: CsvFieldKind[] = ['count', 'text', 'skip', 'timestamp', 'text', 'count', 'count', 'count', 'skip', 'timestamp', 'count', 'text', 'skip'];
  const header = kinds.map((k, i) => `${k}_${i}`);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  // Most rows plain (no quotes), as real files are; the others quote some fields.
  let plain = true;
  const text = (): string => {
    // lengths up to ~24, now and then a long one, so fields and quoted fields cross 16- and 64-byte blocks
    const length = rand() < 0.05 ? 60 + Math.floor(rand() * 200) : Math.floor(rand() * 24);
    const pieces = plain ? PIECES.filter((p) => !/[",\n]/.test(p)) : PIECES;
    let s = '';
    for (let i = 0; i < length; i++) s += rand() < 0.7 ? pick(PIECES.slice(0, 5)) : pick(pieces);
    return /[",\n]/.test(s) || (s && !plain && rand() < 0.1) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  const count = (): string => {
    if (rand() < 0.1) return '';
    const digits = rand() < 0.7 ? 1 + Math.floor(rand() * 3) : 1 + Math.floor(rand() * 15);
    return `${rand() < 0.1 ? '-' : ''}${String(Math.floor(rand() * 1e15)).padStart(15, '0').slice(0, digits)}`;
  };
  const timestamp = (): string => {
    if (rand() < 0.1) return '';
    // Half of them in a few minutes, as a day's file has (around 1970 too, where the seconds have few digits).
    const ms = rand() < 0.5 ? pick(MINUTES) + Math.floor(rand() * 60_000) : Date.UTC(1000, 0, 1) + rand() * (Date.UTC(9999, 11, 31) - Date.UTC(1000, 0, 1));
    const iso = new Date(ms).toISOString();
    const digits = Math.floor(rand() * 7);
    return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${digits ? `.${String(Math.floor(rand() * 1e6)).padStart(6, '0').slice(0, digits)}` : ''}+00`;
  };
  const make = { count, text, skip: text, timestamp } as const;
  const lines = [header.join(',')];
  for (let r = 0; r < n; r++) {
    plain = rand() < 0.8;
    lines.push(kinds.map((k) => make[k]()).join(','));
  }
  return { header, kinds, text: `${lines.join('\n')}${rand() < 0.5 ? '\n' : ''}` };
}

async function expectSameAsReference(bytes: Buffer, header: string[], kinds: CsvFieldKind[], label: string): Promise<void> {
  const expected = reference(bytes, header, kinds);
  const n = serial++;
  const src = join(root, `gen-${n}.csv`);
  const dst = join(root, `gen-out-${n}.csv`);
  await writeFile(src, bytes);
  const result = await prepareCsvFile(src, dst, header, kinds);
  if ('fromLine' in expected) {
    expect(result, `${label}: the reference refuses lines ${expected.fromLine}-${expected.toLine}`).toHaveProperty('refused');
    // The message names a line of the refused row (a row spans lines through quoted newlines).
    const line = Number(/^line (\d+):/.exec((result as { refused: string }).refused)?.[1]);
    expect(line, `${label}: ${(result as { refused: string }).refused}`).toBeGreaterThanOrEqual(expected.fromLine);
    expect(line, `${label}: ${(result as { refused: string }).refused}`).toBeLessThanOrEqual(expected.toLine);
  } else {
    expect(result, `${label}: the reference accepts`).toHaveProperty('rows');
    expect((await readFile(dst)).equals(expected.out), `${label}: same output as the reference`).toBe(true);
  }
  await rm(src);
  await rm(dst, { force: true });
}

describe.runIf(csvPrepareNative)('generated input against a reference implementation', () => {
  it('thousands of rows with fields of every length, quoted fields and non-ASCII text', async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const { header, kinds, text } = generatedRows(random(seed), 1000);
      const bytes = Buffer.from(text);
      expect(reference(bytes, header, kinds), 'the generator writes accepted input').toHaveProperty('out');
      await expectSameAsReference(bytes, header, kinds, `seed ${seed}`);
    }
  });

  it('one random byte changed, inserted or removed: the same refusal or the same output', async () => {
    const rand = random(42);
    const inserts = [0x22, 0x2c, 0x0a, 0x0d, 0x00, 0x80, 0xc3, 0xed, 0xf4, 0x2e, 0x2b, 0x20, 0x39, 0x3a, 0x2d, 0x09];
    let refused = 0;
    for (let i = 0; i < 400; i++) {
      const { header, kinds, text } = generatedRows(rand, 12);
      const bytes = Buffer.from(text);
      // A third of the changes next to a quote, where the quoting rules are decided.
      const quotes = [...bytes.entries()].filter(([, b]) => b === 0x22).map(([i]) => i);
      const atQuote = quotes.length > 0 && rand() < 0.33;
      const at = atQuote ? (quotes[Math.floor(rand() * quotes.length)] as number) + Math.floor(rand() * 2) : Math.floor(rand() * bytes.length);
      const op = rand();
      const byte = inserts[Math.floor(rand() * inserts.length)] as number;
      const changed =
        op < 0.4
          ? Buffer.concat([bytes.subarray(0, at), Buffer.from([byte]), bytes.subarray(at)])
          : op < 0.7
            ? Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)])
            : Buffer.concat([bytes.subarray(0, at), Buffer.from([byte]), bytes.subarray(at + 1)]);
      if ('fromLine' in reference(changed, header, kinds)) refused++;
      await expectSameAsReference(changed, header, kinds, `case ${i}: byte ${byte} at ${at}, op ${op.toFixed(2)}`);
    }
    // Both outcomes are exercised.
    expect(refused).toBeGreaterThan(50);
    expect(refused).toBeLessThan(380);
  });
});

describe.runIf(csvPrepareNative)('inputs longer than the 4 MiB read step', () => {
  const STEP = 4 * 1024 * 1024;

  /** Plain rows of one length up to about `until` bytes from the start, then `tail`. */
  function around(until: number, tail: string): string {
    const plain = '1,,h,7,nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\n';
    return HEAD + plain.repeat(Math.floor((until - HEAD.length) / plain.length)) + tail;
  }

  it('rows and quoted fields that cross each step are read whole', async () => {
    for (const shift of [-40, 0, 5]) {
      const tail = `2,,"a\n""b"",${'c'.repeat(60)}\nd",8,"x\n${'y'.repeat(70)}"\n3,2024-03-01 00:00:00+00,h,9,n\n`;
      const input = Buffer.from(around(STEP + shift, tail) + around(STEP + shift, tail).slice(HEAD.length));
      await expectSameAsReference(input, H, K, `shift ${shift}`);
    }
  });

  it('generated rows over more than one step', async () => {
    const { header, kinds, text } = generatedRows(random(7), 40_000);
    const bytes = Buffer.from(text);
    expect(bytes.length).toBeGreaterThan(STEP + 1_000_000);
    await expectSameAsReference(bytes, header, kinds, 'seed 7');
  });

  it('a refusal after a step names its line', async () => {
    const input = around(STEP + 1000, '2,,"a\nb",1,n\n3,,h,x,n\n');
    const line = input.split('\n').length - 1;
    expect(await refusal(input)).toBe(`line ${line}: column ok: "x" is not a count this preparer accepts`);
  });

  it('a row longer than 1,000,000 bytes that crosses a step', async () => {
    const input = around(STEP - 500_000, `2,,h,1,${'n'.repeat(1_000_001)}\n`);
    const line = input.split('\n').length - 1;
    expect(await refusal(input)).toBe(`line ${line}: a row longer than 1000000 bytes`);
    const quoted = around(STEP - 500_000, `2,,h,1,"${'n'.repeat(1_000_001)}"\n`);
    expect(await refusal(quoted)).toBe(`line ${line}: a row longer than 1000000 bytes`);
  });
});

describe.runIf(csvPrepareNative)('files', () => {
  it('rejects an output that is the input, and leaves the input as it was', async () => {
    const src = join(root, 'same.csv');
    await writeFile(src, `${HEAD}1,,h,1,n\n`);
    await expect(prepareCsvFile(src, src, H, K)).rejects.toThrow(/the output is the input/);
    expect(await readFile(src, 'utf8')).toBe(`${HEAD}1,,h,1,n\n`);
    // refused before the output is opened: the path is left alone
    expect(await prepareCsvFile(src, src, ['a,b'], ['text'])).toHaveProperty('refused');
    expect(await prepareCsvFile(src, src, H, K.slice(1))).toHaveProperty('refused');
    expect(await readFile(src, 'utf8')).toBe(`${HEAD}1,,h,1,n\n`);
  });

  it('replaces an existing output, and removes it on a refusal', async () => {
    const src = join(root, 'replace.csv');
    const dst = join(root, 'replace-out.csv');
    await writeFile(dst, 'x'.repeat(10_000));
    await writeFile(src, `${HEAD}1,,h,1,n\n`);
    expect(await prepareCsvFile(src, dst, H, K)).toEqual({ rows: 1 });
    expect(await readFile(dst, 'utf8')).toBe('created,host,ok\n,h,1\n');
    await writeFile(src, `${HEAD}1,,h,x,n\n`);
    expect(await prepareCsvFile(src, dst, H, K)).toHaveProperty('refused');
    expect(existsSync(dst)).toBe(false);
  });
});
