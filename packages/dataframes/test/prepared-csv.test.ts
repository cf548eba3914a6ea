/**
 * Differential test of the two ways a CSV member is read: the strict raw read (`addCsv`, which
 * never prepares) and the batch path (`stageTarballs` / `addTarballsRows`), which first gives
 * each file to `prepareCsvFile` and reads what it writes, or the raw file when it refuses.
 * Seeded generated files (ordinary rows plus mutations at every edge of the preparer's rules)
 * must either fail both ways or group into exactly the same rows, under both counting rules.
 */
import { spawnSync } from 'node:child_process';
import { isUtf8 } from 'node:buffer';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataCollectionStatus, type Dataframe, HostMetric, ident, JobHostSummary, MainHost, MainJobevent, openDuckDb, type TallyDuckDb } from '@tally/dataframes';
import { CSV_SCHEMAS, csvPrepareNative, type ExtractedTarball } from '@tally/extractors';
import { DirectoryStorage } from '@tally/storage';
import { seededRandom } from '@tally/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTarballs } from '../../../tools/bench/gen-tarballs.js';
import { CsvError } from '../src/csv.js';
import { withExtracted } from '../src/load.js';

type Rand = ReturnType<typeof seededRandom>;
/** A field's bytes as written in the CSV (quotes included); a Buffer for bytes that are no UTF-8. */
type Field = string | Buffer;
type Kind = 'count' | 'timestamp' | 'text';
/**
 * Whether a value or file stays inside the preparer's rules (see csv-prepare.ts): then it must
 * prepare it, else it must refuse it; `either` where the rules leave it open.
 */
type InRules = boolean | 'either';
/** A replacement value of a field. */
interface Edge {
  value: Field;
  inRules: InRules;
}

const inRules = (...values: Field[]): Edge[] => values.map((value) => ({ value, inRules: true }));
const outOfRules = (...values: Field[]): Edge[] => values.map((value) => ({ value, inRules: false }));
const eitherWay = (...values: Field[]): Edge[] => values.map((value) => ({ value, inRules: 'either' }));
const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

const COUNT_EDGES: Edge[] = [
  ...inRules('', '0', '-0', '007', '-3', '42', '999999999999999', '-999999999999999', '000000000000001'),
  ...outOfRules('"5"', '""', '2.5', '1.0', '1e3', ' 5', '5 ', '+5', '-', '--1', 'abc', '0x10', '"1,5"', '١٢'),
  // 16 digits and the 2^53 boundary: whole doubles below 2^53 read, the rest fail the raw read.
  ...outOfRules('1000000000000000', '9007199254740991', '-9007199254740991', '9007199254740992', '9007199254740993'),
];

const T = '2024-03-06 12:34:56';
const TIMESTAMP_EDGES: Edge[] = [
  ...inRules('', `${T}+00`, `${T}.1+00`, `${T}.12+00`, `${T}.123+00`, `${T}.1234+00`, `${T}.12345+00`, `${T}.123456+00`),
  ...inRules('2024-02-29 23:59:59+00', '2000-02-29 00:00:00+00', '1000-01-01 00:00:00+00', '9999-12-31 23:59:59.999999+00'),
  ...inRules('1969-12-31 23:59:59.999999+00', '1970-01-01 00:00:00+00', '1582-10-10 12:00:00+00', '2024-04-30 00:00:00.000001+00'),
  ...outOfRules(`${T}.1234567+00`, `${T}.+00`, `${T}+02`, `${T}+05:30`, `${T}-00`, `${T}+00:00`, `${T}+0000`, T, `${T}.5`),
  ...outOfRules('2023-02-29 10:00:00+00', '1900-02-29 10:00:00+00', '2024-04-31 10:00:00+00', '2024-13-01 10:00:00+00'),
  ...outOfRules('2024-00-10 10:00:00+00', '2024-03-00 10:00:00+00', '2024-03-06 24:00:00+00', '2024-03-06 23:59:60+00'),
  ...outOfRules('2024-03-06 12:60:00+00', '0999-12-31 23:59:59+00', '10000-01-01 00:00:00+00', `"${T}+00"`, ` ${T}+00`),
  ...outOfRules('2024-3-6 12:34:56+00', '2024-03-06T12:34:56+00', '2024-03-06 12:34+00', '2024-03-06+00', 'yesterday'),
];

const TEXT_EDGES: Edge[] = [
  ...inRules('', '""', '"a,b"', '"say ""hi"""', '"multi\nline"', '"a""b,c\nd"', 'café', '模块', '😀 x', ' spaced ', '"plain"', 'x'.repeat(2000)),
  // A blank line inside a quoted field: rule 3 forbids empty lines, rule 4 allows line breaks in quotes.
  ...eitherWay('"two\n\nlines"'),
  ...outOfRules(bytes('a', [0xff]), bytes('a', [0xc3]), bytes([0xc0, 0xaf]), bytes([0xed, 0xa0, 0x80]), bytes([0xf4, 0x90, 0x80, 0x80])),
  ...outOfRules(bytes('a', [0], 'b'), 'ab"c', '"ab"c', '"a\r\nb"', 'a\rb', '"unterminated'),
];

const EDGES: Record<Kind, Edge[]> = { count: COUNT_EDGES, timestamp: TIMESTAMP_EDGES, text: TEXT_EDGES };

/** How to write a member's ordinary rows and which dataframe reads it. */
interface MemberSpec {
  member: string;
  /** The column names of each known version; the newest first. */
  headers: readonly (readonly string[])[];
  ordinary(column: string, row: number, r: Rand): string;
  /** Rows whose task counts are all zero (unreachable hosts), when the member has them. */
  unreachable?(row: Record<string, Field>, r: Rand): void;
  /** Rows with an empty or negative counter, whose sums the counting rules treat apart (see job-host-counters.test.ts). */
  oddCounters?(row: Record<string, Field>, r: Rand): void;
  dataframe(db: TallyDuckDb, reachableOnly: boolean): Dataframe;
  /** The counting rules the dataframe has (`reachableOnly` values). */
  rules: readonly boolean[];
}

function kindOf(member: string, column: string): Kind {
  const schema = CSV_SCHEMAS[member]!;
  const canonical = schema.aliases?.[column] ?? column;
  if (schema.integers.includes(canonical)) return 'count';
  return schema.timestamps.includes(canonical) ? 'timestamp' : 'text';
}

/** Every known header of `member`, the newest first (and, for job_host_summary, the `host_id` variant). */
function knownHeaders(member: string): string[][] {
  const versions = Object.values(CSV_SCHEMAS[member]!.versions).map((h) => [...h]).reverse();
  if (member !== 'job_host_summary.csv') return versions;
  return [...versions, versions[1]!.map((c) => (c === 'host_remote_id' ? 'host_id' : c))];
}

/**
 * A file's clock: successive timestamps a fixed step apart, written with a fixed number of
 * fraction digits (runs within one minute, and carries into the next second, minute, day, leap
 * day, year; before 1970), as a day's rows are, whose times the preparer may cache by minute.
 */
interface Clock {
  micros: number;
  step: number;
  digits: number;
}

const CLOCK_STARTS = ['2024-03-06 12:34:56', '2024-02-28 23:59:58.5', '2023-12-31 23:59:59.999998', '1969-12-31 23:59:59.99999', '2024-03-06 23:59:00', '2100-02-28 23:59:59'];
const CLOCK_STEPS = [0, 1, 1000, 250_000, 1_000_000, 7_000_000, 59_000_000, 60_000_000, 61_000_000, 3_600_000_000];

/** The clock of the file being generated; undefined: each timestamp drawn at random. */
let clock: Clock | undefined;

function startClock(r: Rand, what: string[]): Clock | undefined {
  if (r.next() < 0.5) return undefined;
  const start = r.pick(CLOCK_STARTS);
  const micros = Date.parse(`${start.slice(0, 19).replace(' ', 'T')}Z`) * 1000 + Number((start.split('.')[1] ?? '').padEnd(6, '0'));
  const c = { micros, step: r.pick(CLOCK_STEPS), digits: r.int(0, 6) };
  what.push(`clock from ${start} by ${c.step} µs, ${c.digits} fraction digits`);
  return c;
}

/** Epoch microseconds as PostgreSQL's UTC text with `digits` fraction digits (truncated). */
function formatMicros(micros: number, digits: number): string {
  const ms = Math.floor(micros / 1000);
  const iso = new Date(ms).toISOString();
  const fraction = `${iso.slice(20, 23)}${String(micros - ms * 1000).padStart(3, '0')}`.slice(0, digits);
  return `${iso.slice(0, 19).replace('T', ' ')}${digits ? `.${fraction}` : ''}+00`;
}

/** The clock's next timestamp, or a valid timestamp of March 2024 with 0–6 fraction digits. */
function ordinaryTimestamp(r: Rand): string {
  if (clock) {
    const text = formatMicros(clock.micros, clock.digits);
    clock.micros += clock.step;
    return text;
  }
  const day = String(r.int(1, 31)).padStart(2, '0');
  const time = [r.int(0, 23), r.int(0, 59), r.int(0, 59)].map((n) => String(n).padStart(2, '0')).join(':');
  const digits = r.int(0, 6);
  const fraction = digits === 0 ? '' : `.${String(r.int(0, 10 ** digits - 1)).padStart(digits, '0')}`;
  return `2024-03-${day} ${time}${fraction}+00`;
}

const JHS_TEXT: Record<string, readonly string[]> = {
  host_name: ['web1', 'db1', 'host-3.example.com', 'hôte-4', '"h,5"'],
  ansible_host_variable: ['', '', '', '10.0.0.1', 'web1'],
  job_template_name: ['Deploy', '"Patch, weekly"', 'Backup', ''],
  organization_name: ['Org A', '"Org, B"', '', 'Örg C'],
  failed: ['t', 'f'],
};
const JHS_COUNTS = new Set(['dark', 'failures', 'ok', 'skipped', 'ignored', 'rescued']);

function ordinaryJhs(column: string, row: number, r: Rand): string {
  if (JHS_TEXT[column]) return r.pick(JHS_TEXT[column]!);
  if (column === 'created' || column === 'job_created' || column === 'modified') return ordinaryTimestamp(r);
  if (column === 'job_remote_id') return String(r.int(60, 63));
  if (column === 'id') return String(row + 1);
  if (JHS_COUNTS.has(column)) return String(r.next() < 0.6 ? 0 : r.int(1, 20));
  return r.next() < 0.1 ? '' : String(r.int(0, 9));
}

const FACTS = ['{}', '{"ansible_product_serial": "S1", "ansible_machine_id": "M1"}', '{"ansible_product_serial": ""}', '{"a": [1, 2]}', 'not json'];
const quoted = (s: string) => `"${s.replaceAll('"', '""')}"`;

function ordinaryMainHost(column: string, _row: number, r: Rand): string {
  if (column === 'canonical_facts' || column === 'facts') return quoted(r.pick(FACTS));
  if (column === 'last_automation') return ordinaryTimestamp(r);
  if (column === 'host_name') return r.pick(['web1', 'db1', 'h3', '"h,4"']);
  if (column.endsWith('_id')) return String(r.int(1, 5));
  return r.pick(['Inv A', 'Org B', '', 'Ünïcode']);
}

function ordinaryHostMetric(column: string, _row: number, r: Rand): string {
  if (kindOf('host_metric.csv', column) === 'timestamp') return r.next() < 0.2 ? '' : ordinaryTimestamp(r);
  if (kindOf('host_metric.csv', column) === 'count') return String(r.int(0, 99));
  if (column === 'deleted') return r.pick(['t', 'f', '']);
  return r.pick(['web1', 'S-1', '', '"a,b"']);
}

function ordinaryStatus(column: string, _row: number, r: Rand): string {
  if (kindOf('data_collection_status.csv', column) === 'timestamp') return ordinaryTimestamp(r);
  if (column === 'elapsed') return r.pick(['0.5', '12', '', 'x']);
  if (column === 'status') return r.pick(['ok', 'failed']);
  return r.pick(['job_host_summary.csv', 'main_host.csv']);
}

const EVENTS = ['[]', '["e1", "e2"]', '["e1", null]', '{}', ''];

function ordinaryAudit(column: string, _row: number, r: Rand): string {
  if (column === 'canonical_facts' || column === 'facts') return quoted(r.pick(FACTS));
  if (column === 'events') return quoted(r.pick(EVENTS));
  if (kindOf('main_indirectmanagednodeaudit.csv', column) === 'timestamp') return ordinaryTimestamp(r);
  if (column === 'job_remote_id') return String(r.int(60, 63));
  if (column === 'task_runs') return String(r.int(0, 9));
  if (column === 'host_name') return r.pick(['sw1', 'sw2', 'vm-3', '"sw,4"']);
  return r.pick(['Org A', 'Discover', '', '"x,y"', '5']);
}

const EVENT_TEXT: Record<string, readonly string[]> = {
  task_action: ['ansible.builtin.copy', 'shell', 'include_role', '模块'],
  resolved_action: ['ansible.builtin.copy', '', 'community.general.ini_file'],
  resolved_role: ['', 'geerlingguy.mysql'],
  role: ['', 'common', 'acmé.rôle'],
  duration: ['1.5', '', '0.000001', 'x'],
  host_name: ['web1', 'db1', '"h,3"'],
};

function ordinaryEvent(column: string, _row: number, r: Rand): string {
  if (EVENT_TEXT[column]) return r.pick(EVENT_TEXT[column]!);
  if (column === 'job_remote_id') return String(r.int(60, 63));
  if (column === 'created' || column === 'modified' || column === 'job_created') return ordinaryTimestamp(r);
  return r.pick(['1', '2', 't', 'f', '"Install ""nginx"", then start"', '']);
}

const SPECS: Record<string, MemberSpec> = {
  jhs: {
    member: 'job_host_summary.csv',
    headers: knownHeaders('job_host_summary.csv'),
    ordinary: ordinaryJhs,
    unreachable(row, r) {
      for (const c of JHS_COUNTS) row[c] = '0';
      if (r.next() < 0.5) row.dark = String(r.int(1, 3));
    },
    oddCounters(row, r) {
      // Now and then the other counters 0, so that the odd one alone decides the row's sum.
      if (r.next() < 0.5) for (const c of JHS_COUNTS) row[c] = '0';
      row[r.pick([...JHS_COUNTS])] = r.pick(['', '', '-1', `-${r.int(2, 20)}`]);
    },
    dataframe: (db, reachableOnly) => new JobHostSummary(db, { reachableOnly }),
    rules: [true, false],
  },
  audit: {
    member: 'main_indirectmanagednodeaudit.csv',
    headers: knownHeaders('main_indirectmanagednodeaudit.csv'),
    ordinary: ordinaryAudit,
    dataframe: (db, reachableOnly) => new JobHostSummary(db, { reachableOnly }),
    rules: [true, false],
  },
  jobevent: { member: 'main_jobevent.csv', headers: knownHeaders('main_jobevent.csv'), ordinary: ordinaryEvent, dataframe: (db) => new MainJobevent(db), rules: [true] },
  mainHost: { member: 'main_host.csv', headers: knownHeaders('main_host.csv'), ordinary: ordinaryMainHost, dataframe: (db) => new MainHost(db), rules: [true] },
  hostMetric: { member: 'host_metric.csv', headers: knownHeaders('host_metric.csv'), ordinary: ordinaryHostMetric, dataframe: (db) => new HostMetric(db), rules: [true] },
  status: {
    member: 'data_collection_status.csv',
    headers: knownHeaders('data_collection_status.csv'),
    ordinary: ordinaryStatus,
    dataframe: (db) => new DataCollectionStatus(db, { scan: true }),
    rules: [true],
  },
};

/** A generated CSV: its bytes, what was done to it, and whether all of it stays inside the preparer's rules. */
interface Generated {
  content: Buffer;
  what: string[];
  inRules: InRules;
}

/** A file being built: its lines (the header first) and whether the last one ends with a line break. */
interface Lines {
  lines: Buffer[];
  finalNewline: boolean;
}

/** Changes to a whole file (its lines, header and line ends), applied after the rows are built. */
interface FileEdit {
  name: string;
  inRules: InRules;
  apply(file: Lines, r: Rand): void;
}

const CR = Buffer.from('\r');
const NO_FINAL_NEWLINE: FileEdit = {
  name: 'no final newline',
  inRules: true,
  apply: (f) => {
    f.finalNewline = false;
  },
};
const FILE_EDITS: FileEdit[] = [
  NO_FINAL_NEWLINE,
  { name: 'BOM', inRules: false, apply: (f) => atHeader(f, (h) => Buffer.concat([Buffer.from('\ufeff'), h])) },
  { name: 'CRLF', inRules: false, apply: (f) => f.lines.splice(0, f.lines.length, ...f.lines.map((l) => Buffer.concat([l, CR]))) },
  { name: 'CRLF on one row', inRules: false, apply: (f, r) => atRow(f, r, (l) => Buffer.concat([l, CR])) },
  { name: 'blank line between rows', inRules: false, apply: (f, r) => void f.lines.splice(r.int(1, Math.max(1, f.lines.length)), 0, Buffer.alloc(0)) },
  { name: 'blank line at the end', inRules: false, apply: (f) => void f.lines.push(Buffer.alloc(0)) },
  { name: 'extra field', inRules: false, apply: (f, r) => atRow(f, r, (l) => Buffer.concat([l, Buffer.from(',x')])) },
  { name: 'trailing comma', inRules: false, apply: (f, r) => atRow(f, r, (l) => Buffer.concat([l, Buffer.from(',')])) },
  { name: 'missing field', inRules: false, apply: (f, r) => atRow(f, r, (l) => l.subarray(0, Math.max(0, l.lastIndexOf(0x2c)))) },
  { name: 'quoted header', inRules: false, apply: (f) => atHeader(f, (h) => Buffer.from(h.toString().split(',').map(quoted).join(','))) },
  { name: 'spaced header', inRules: false, apply: (f) => atHeader(f, (h) => Buffer.from(h.toString().replaceAll(',', ', '))) },
  { name: 'header only', inRules: true, apply: (f) => void f.lines.splice(1) },
  {
    name: 'header only, no final newline',
    inRules: false,
    apply: (f) => {
      f.lines.splice(1);
      f.finalNewline = false;
    },
  },
  { name: 'empty file', inRules: false, apply: (f) => void f.lines.splice(0) },
  { name: 'a line of 1,000,001 bytes', inRules: false, apply: (f, r) => atRow(f, r, (l) => padLine(l, 1_000_001)) },
  // "A row longer than 1,000,000 bytes refuses": whether the line break counts is open.
  { name: 'a line of 1,000,000 bytes', inRules: 'either', apply: (f, r) => atRow(f, r, (l) => padLine(l, 1_000_000)) },
];

/** Replace the header line (if any) by `edit` of it. */
function atHeader(file: Lines, edit: (line: Buffer) => Buffer): void {
  if (file.lines.length > 0) file.lines[0] = edit(file.lines[0]!);
}

/** Replace one data row (if any) by `edit` of it. */
function atRow(file: Lines, r: Rand, edit: (line: Buffer) => Buffer): void {
  if (file.lines.length < 2) return;
  const i = r.int(1, file.lines.length - 1);
  file.lines[i] = edit(file.lines[i]!);
}

/** `line` made `size` bytes long by a quoted text field in place of its last field (a text column in every member here). */
function padLine(line: Buffer, size: number): Buffer {
  const head = line.subarray(0, line.lastIndexOf(0x2c) + 1);
  return Buffer.concat([head, Buffer.from(`"${'p'.repeat(Math.max(0, size - head.length - 2))}"`)]);
}

/** The ordinary values of one row of `header` (now and then an unreachable host's). */
function ordinaryValues(spec: MemberSpec, header: readonly string[], row: number, r: Rand): Record<string, Field> {
  const values: Record<string, Field> = Object.fromEntries(header.map((c) => [c, spec.ordinary(c, row, r)]));
  if (spec.unreachable && r.next() < 0.15) spec.unreachable(values, r);
  if (spec.oddCounters && r.next() < 0.1) spec.oddCounters(values, r);
  return values;
}

/** The line of `values` in `header` order. */
const rowBytes = (header: readonly string[], values: Record<string, Field>) =>
  Buffer.concat(header.flatMap((c, i) => [...(i ? [Buffer.from(',')] : []), Buffer.from(values[c]!)]));

const show = (value: Field) => JSON.stringify(value.toString('latin1').slice(0, 40));

/** One row of `header`: ordinary values, each field replaced by an edge (of `pool`) with probability `rate`. */
function generateRow(spec: MemberSpec, header: readonly string[], row: number, r: Rand, pool: (e: Edge) => boolean, rate: number, what: string[]): Buffer {
  const values = ordinaryValues(spec, header, row, r);
  for (const c of header) {
    if (r.next() >= rate) continue;
    const edge = r.pick(EDGES[kindOf(spec.member, c)].filter(pool));
    values[c] = edge.value;
    what.push(`row ${row + 2} ${c}=${show(edge.value)}`);
  }
  return rowBytes(header, values);
}

/** The bytes of `file`. */
function fileBytes(file: Lines): Buffer {
  const text = Buffer.concat(file.lines.flatMap((l) => [l, Buffer.from('\n')]));
  return file.finalNewline || text.length === 0 ? text : text.subarray(0, -1);
}

/**
 * A file of 1–50 rows: about half of them stay inside the preparer's rules (edges in rules
 * only); the others get one or two edges of any kind besides, in a field or in the file.
 */
function generateFile(spec: MemberSpec, r: Rand): Generated {
  const header = r.next() < 0.7 ? spec.headers[0]! : r.pick(spec.headers);
  const strict = r.next() < 0.5;
  const what: string[] = [`header of ${header.length} columns`];
  const n = r.int(1, 50);
  const file: Lines = { lines: [Buffer.from(header.join(','))], finalNewline: true };
  clock = startClock(r, what);
  for (let i = 0; i < n; i++) file.lines.push(generateRow(spec, header, i, r, (e) => e.inRules === true, 0.015, what));
  clock = undefined;
  let inRules = true;
  for (let k = strict ? 0 : r.int(1, 2); k > 0; k--) {
    if (r.next() < 0.5) {
      const edit = r.pick(FILE_EDITS);
      edit.apply(file, r);
      what.push(edit.name);
      inRules &&= edit.inRules === true;
    } else {
      const row = r.int(0, n - 1);
      if (row + 1 < file.lines.length) file.lines[row + 1] = generateRow(spec, header, row, r, () => true, 0.2, what);
      inRules = false;
    }
  }
  if (strict && r.next() < 0.2) {
    NO_FINAL_NEWLINE.apply(file, r);
    what.push(NO_FINAL_NEWLINE.name);
  }
  // Rule 1: the header line ends with a line break, even with no row after it.
  const headerEnds = file.finalNewline || file.lines.length > 1;
  return { content: fileBytes(file), what, inRules: inRules && headerEnds };
}

/** Where each edge is tried in job_host_summary.csv 1.2: read counts (one of the reachable sum, and `dark`), timestamps, read text, and an unread column. */
const SWEEP_COLUMNS: Record<Kind, readonly string[]> = {
  count: ['ok', 'dark', 'job_remote_id'],
  timestamp: ['created', 'job_created'],
  text: ['host_name', 'organization_name', 'modified'],
};

/** One file per edge and column of `columns` (4 ordinary rows, the edge in the second) and one per file edit. */
function sweepFiles(spec: MemberSpec, columns: Record<Kind, readonly string[]>, seed: number): Generated[] {
  const r = seededRandom(seed);
  const header = spec.headers[0]!;
  const ordinary = (): Lines => ({
    lines: [Buffer.from(header.join(',')), ...[0, 1, 2, 3].map((i) => rowBytes(header, ordinaryValues(spec, header, i, r)))],
    finalNewline: true,
  });
  const out: Generated[] = [];
  for (const kind of ['count', 'timestamp', 'text'] as const) {
    for (const column of columns[kind]) {
      for (const edge of EDGES[kind]) {
        const file = ordinary();
        file.lines[2] = rowBytes(header, { ...ordinaryValues(spec, header, 1, r), [column]: edge.value });
        out.push({ content: fileBytes(file), what: [`row 3 ${column}=${show(edge.value)}`], inRules: edge.inRules });
      }
    }
  }
  for (const edit of FILE_EDITS) {
    const file = ordinary();
    edit.apply(file, r);
    out.push({ content: fileBytes(file), what: [edit.name], inRules: edit.inRules });
  }
  return out;
}

const UUID = 'u-prepared';

/** `dir` (holding `members` and a config.json) as an extracted tarball. */
function extractedTarball(dir: string, members: readonly string[]): ExtractedTarball {
  const files = new Map(members.map((m) => [m, join(dir, m)]));
  return {
    name: `${dir}.tar.gz`,
    dir,
    files,
    file: (m) => files.get(m),
    config: async () => JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>,
    release: async () => {},
    [Symbol.asyncDispose]: async () => {},
  };
}

type Outcome = { ok: true; df: Dataframe } | { ok: false; error: unknown; df: Dataframe };

/** A: the strict raw read of `path` (or several: all or none; addCsv never prepares), grouped. */
async function readRaw(df: Dataframe, path: string | readonly string[], member: string, installUuid = UUID): Promise<Outcome> {
  try {
    await df.addCsv(path, { installUuid, member });
    await df.group();
    return { ok: true, df };
  } catch (error) {
    return { ok: false, error, df };
  }
}

/** B: the batch read of `tarballs` (preparing each CSV first), grouped, in one transaction as the loader does. */
async function readBatch(df: Dataframe, tarballs: readonly ExtractedTarball[], stage: boolean): Promise<Outcome> {
  await df.init();
  await df.db.run('BEGIN TRANSACTION');
  try {
    if (stage) await df.stageTarballs(tarballs);
    else await df.addTarballsRows(tarballs);
    await df.group();
    await df.db.run('COMMIT');
    return { ok: true, df };
  } catch (error) {
    // After a fatal error (see `isFatal`) the database takes no statement, not even this one.
    await df.db.run('ROLLBACK').catch((err: unknown) => {
      if (!isFatal(err)) throw err;
    });
    return { ok: false, error, df };
  }
}

/** Rows of `a`'s grouped table missing from `b`'s (as a multiset), both ways (the first 5 as JSON); empty when equal. */
async function tableDifference(db: TallyDuckDb, a: Dataframe, b: Dataframe): Promise<{ onlyA: unknown[]; onlyB: unknown[] }> {
  const except = (x: Dataframe, y: Dataframe) => `SELECT * FROM ${ident(x.table)} EXCEPT ALL SELECT * FROM ${ident(y.table)}`;
  // One statement while they are equal (nearly always): the rows are fetched only when they differ.
  const [count] = await db.all<{ ab: bigint; ba: bigint }>(`SELECT (SELECT count(*) FROM (${except(a, b)})) AS ab, (SELECT count(*) FROM (${except(b, a)})) AS ba`);
  if (count?.ab === 0n && count.ba === 0n) return { onlyA: [], onlyB: [] };
  const text = (sql: string) => `SELECT CAST(to_json(t) AS VARCHAR) AS row FROM (${sql}) t LIMIT 5`;
  const onlyA = (await db.all<{ row: string }>(text(except(a, b)))).map((x) => x.row);
  const onlyB = (await db.all<{ row: string }>(text(except(b, a)))).map((x) => x.row);
  return { onlyA, onlyB };
}

const message = (err: unknown) => (err instanceof Error ? `${err.constructor.name}: ${err.message.split('\n')[0]}` : String(err));

interface FileReport {
  label: string;
  /** The tarball directory read. */
  dir: string;
  inRules: InRules;
  valid: boolean;
  prepared: boolean;
  /** DuckDB failed with a fatal error (see `isFatal`). */
  fatal: boolean;
  difference?: Record<string, unknown>;
  /** Both failed: A's message and B's, for the record. */
  failures?: { a: string; b: string };
}

let root: string;
let db: TallyDuckDb;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tally-prepared-csv-'));
  db = await openDuckDb({ memoryLimit: '512MB', threads: 2 });
});
afterAll(async () => {
  await db.close();
  await rm(root, { recursive: true, force: true });
});

/** Write `generated` as the member of a tarball directory `dir`; its path. */
async function writeTarballDir(dir: string, member: string, generated: Generated): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify({ install_uuid: UUID }));
  await writeFile(join(dir, member), generated.content);
  return join(dir, member);
}

/**
 * DuckDB 1.5.6 fails with an INTERNAL error, and invalidates the database, on a CSV whose field
 * in a read column holds invalid UTF-8 when that column's position in the file is past the number
 * of columns read (e.g. `a,b,c,d,e,f` / `1,2,3,\xff,5,6` read as `SELECT d`): both reads then
 * fail, and the next read needs a new database.
 */
const isFatal = (err: unknown) => /database has been invalidated|INTERNAL Error/.test(String(err));

async function reopenDb(): Promise<void> {
  await db.close().catch(() => {});
  db = await openDuckDb({ memoryLimit: '512MB', threads: 2 });
}

/** Drop the dataframe's tables unless its database was replaced (see `isFatal`). */
async function dropIfOpen(df: Dataframe): Promise<void> {
  if (df.db === db) await df.drop();
}

/** Dataframes by role, emptied and reused from file to file (cheaper than new tables for each small file). */
const frames = new Map<string, Dataframe>();

/** The empty dataframe of `spec` for `role` (A or B) under `rule`, in the current database. */
async function frame(spec: MemberSpec, rule: boolean, role: 'A' | 'B'): Promise<Dataframe> {
  const key = `${spec.member} ${rule} ${role}`;
  const df = frames.get(key);
  if (df?.db === db) {
    await df.clear();
    return df;
  }
  const fresh = spec.dataframe(db, rule);
  frames.set(key, fresh);
  return fresh;
}

/** What A and B give for one file under one counting rule; B stages or adds rows (`stage`). */
async function compareOnce(spec: MemberSpec, dir: string, rule: boolean, stage: boolean): Promise<Omit<FileReport, 'label' | 'dir' | 'inRules'>> {
  const path = join(dir, spec.member);
  await rm(`${path}.prepared`, { force: true });
  const a = await readRaw(await frame(spec, rule, 'A'), path, spec.member);
  if (!a.ok && isFatal(a.error)) await reopenDb();
  const b = await readBatch(await frame(spec, rule, 'B'), [extractedTarball(dir, [spec.member])], stage);
  if (!b.ok && isFatal(b.error)) await reopenDb();
  const prepared = existsSync(`${path}.prepared`);
  const fatal = (!a.ok && isFatal(a.error)) || (!b.ok && isFatal(b.error));
  const outcome = { valid: a.ok, prepared, fatal };
  if (!a.ok && !b.ok) {
    // A refusal is a CsvError (or DuckDB's fatal error); B's failure must come from a raw read.
    if (!(a.error instanceof CsvError || isFatal(a.error)) || prepared) return { ...outcome, difference: { rule, a: message(a.error), b: message(b.error), prepared } };
    return { ...outcome, failures: { a: message(a.error), b: message(b.error) } };
  }
  if (!a.ok || !b.ok) return { ...outcome, difference: { rule, stage, a: a.ok ? 'ok' : message(a.error), b: b.ok ? 'ok' : message(b.error), prepared } };
  const diff = await tableDifference(db, a.df, b.df);
  if (diff.onlyA.length || diff.onlyB.length) return { ...outcome, difference: { rule, stage, prepared, ...diff } };
  return outcome;
}

/**
 * Compare A and B on each of `files` (written as tarball directories named by `tag`), under
 * every counting rule, or with `oneRule` one of them by turns (for files whose rows do not
 * depend on it).
 */
async function compareFiles(spec: MemberSpec, tag: string, files: readonly Generated[], oneRule = false): Promise<FileReport[]> {
  const reports: FileReport[] = [];
  for (const [i, generated] of files.entries()) {
    const dir = join(root, `${spec.member}-${tag}-${i}`);
    await writeTarballDir(dir, spec.member, generated);
    const label = `${tag} file ${i}: ${generated.what.join('; ')}`;
    const csv = generated.content.toString('latin1');
    const rules = oneRule ? [spec.rules[i % spec.rules.length]!] : spec.rules;
    for (const [k, rule] of rules.entries()) {
      const run = await compareOnce(spec, dir, rule, (i + k) % 2 === 0);
      const unexpectedFatal = run.fatal && isUtf8(generated.content) ? { fatal: 'on valid UTF-8' } : undefined;
      const found = run.difference ?? unexpectedFatal;
      const difference = found && { ...found, csv: csv.length > 3000 ? `${csv.slice(0, 3000)}…` : csv };
      reports.push({ label, dir, inRules: generated.inRules, ...run, difference });
    }
  }
  return reports;
}

/** `count` generated files of `spec` from `seed`. */
function generateFiles(spec: MemberSpec, seed: number, count: number): Generated[] {
  const r = seededRandom(seed);
  return Array.from({ length: count }, () => generateFile(spec, r));
}

const differences = (reports: readonly FileReport[]) => reports.filter((x) => x.difference).map((x) => ({ label: x.label, ...x.difference }));

/**
 * The files of `dirs` (valid ones) read at once both ways: A as one `addCsv` of all of them, B as
 * one batch of their tarballs (one read of the prepared files and one of the refused, per header).
 */
async function expectBatchEqual(spec: MemberSpec, dirs: readonly string[], rule: boolean): Promise<void> {
  const paths = dirs.map((d) => join(d, spec.member));
  for (const p of paths) await rm(`${p}.prepared`, { force: true });
  const a = await readRaw(spec.dataframe(db, rule), paths, spec.member);
  const b = await readBatch(spec.dataframe(db, rule), dirs.map((d) => extractedTarball(d, [spec.member])), rule);
  try {
    expect(a.ok && b.ok, `${a.ok ? '' : message(a.error)} ${b.ok ? '' : message(b.error)}`).toBe(true);
    expect(await tableDifference(db, a.df, b.df)).toEqual({ onlyA: [], onlyB: [] });
    expect(await a.df.count()).toBeGreaterThan(dirs.length);
    const prepared = paths.filter((p) => existsSync(`${p}.prepared`)).length;
    if (csvPrepareNative) expect(prepared).toBeGreaterThanOrEqual(dirs.length * 0.4);
  } finally {
    await dropIfOpen(a.df);
    await dropIfOpen(b.df);
  }
}

/** `cc --version` works: the addon can be built here (@tally/extractors' native/build.mjs needs a C compiler). */
function hasCompiler(): boolean {
  return spawnSync(process.env.CC || 'cc', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** The share assertions: the preparer did take a meaningful part of the valid files, and all of those inside its rules. */
function expectPreparedShare(reports: readonly FileReport[], minShare: number): void {
  const valid = reports.filter((x) => x.valid);
  const prepared = valid.filter((x) => x.prepared);
  const refusedInRules = reports.filter((x) => x.inRules === true && x.valid && !x.prepared).map((x) => x.label);
  const fatal = reports.filter((x) => x.fatal).length;
  console.info(`prepared ${prepared.length} of ${valid.length} valid file reads (${reports.length} reads; ${fatal} failed fatally in DuckDB)`);
  expect(valid.length).toBeGreaterThan(reports.length / 3);
  if (!csvPrepareNative) return;
  expect(prepared.length / valid.length).toBeGreaterThanOrEqual(minShare);
  expect(refusedInRules).toEqual([]);
}

describe('prepared CSVs read as the raw CSVs do', () => {
  it('the native preparer is built wherever a C compiler is', () => {
    if (hasCompiler()) expect(csvPrepareNative).toBe(true);
  });

  it('job_host_summary.csv: generated files fail both ways or group into the same rows, under both counting rules', async () => {
    const spec = SPECS.jhs!;
    const reports = await compareFiles(spec, 'seed-20261206', generateFiles(spec, 20261206, 180));
    expect(differences(reports)).toEqual([]);
    expect(reports.filter((x) => x.failures).length).toBeGreaterThan(20);
    expectPreparedShare(reports, 0.4);
    // All the valid files at once: one batch mixes prepared and refused files of each header.
    const valid = [...new Set(reports.filter((x) => x.valid).map((x) => x.dir))];
    for (const rule of spec.rules) await expectBatchEqual(spec, valid, rule);
  }, 600_000);

  it('job_host_summary.csv: each edge alone (and each file edit) fails both ways or reads the same under both counting rules; the preparer takes exactly what its rules allow', async () => {
    const spec = SPECS.jhs!;
    // Both rules: an empty or negative counter (`ok`, `dark`) is where they part.
    const reports = await compareFiles(spec, 'sweep', sweepFiles(spec, SWEEP_COLUMNS, 99));
    expect(differences(reports)).toEqual([]);
    if (!csvPrepareNative) return;
    const once = reports.filter((y, i) => reports.findIndex((z) => z.label === y.label) === i);
    for (const x of once.filter((y) => y.inRules === 'either')) console.info(`left open by the rules: ${x.label}: ${x.prepared ? 'prepared' : 'refused'}`);
    const wrong = reports.filter((x) => x.inRules !== 'either' && x.prepared !== x.inRules).map((x) => `${x.label}: ${x.prepared ? 'prepared' : 'refused'}`);
    expect(wrong).toEqual([]);
  }, 600_000);

  for (const [i, key] of (['audit', 'jobevent', 'mainHost', 'hostMetric', 'status'] as const).entries()) {
    const spec = SPECS[key]!;
    it(`${spec.member}: generated files fail both ways or read into the same rows`, async () => {
      const seed = 7 + 101 * i;
      // The counting rule only drops DIRECT job_host_summary rows: one rule by turns is enough here.
      const reports = await compareFiles(spec, `seed-${seed}`, generateFiles(spec, seed, 60), true);
      expect(differences(reports)).toEqual([]);
      expectPreparedShare(reports, 0.4);
    }, 300_000);
  }

  it('a bench day (tools/bench/gen-tarballs.ts, 20,000 rows, extracted as the loader does) reads the same both ways', async () => {
    const lake = join(root, 'bench-lake');
    const start = new Date('2024-03-01T00:00:00Z');
    await generateTarballs({ out: lake, days: 1, rows: 20_000, start });
    const spec = SPECS.jhs!;
    const member = spec.member;
    const options = { storage: new DirectoryStorage({ base: lake }), since: start, until: new Date('2024-03-02T00:00:00Z') };
    await withExtracted([spec.dataframe(db, true)], options, async (extracted) => {
      expect(extracted).toHaveLength(1);
      const tarball = extracted[0]!;
      const path = tarball.file(member)!;
      for (const [k, rule] of spec.rules.entries()) {
        await rm(`${path}.prepared`, { force: true });
        const installUuid = (await tarball.config())?.install_uuid;
        expect(installUuid).toMatch(/^[0-9a-f-]{36}$/);
        const a = await readRaw(spec.dataframe(db, rule), path, member, installUuid as string);
        const b = await readBatch(spec.dataframe(db, rule), [tarball], k === 0);
        expect(a.ok && b.ok).toBe(true);
        expect(existsSync(`${path}.prepared`)).toBe(csvPrepareNative);
        expect(await a.df.count()).toBeGreaterThan(10_000);
        expect(await tableDifference(db, a.df, b.df)).toEqual({ onlyA: [], onlyB: [] });
        await a.df.drop();
        await b.df.drop();
      }
    });
  }, 300_000);
});
