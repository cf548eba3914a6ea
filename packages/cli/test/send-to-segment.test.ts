import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SegmentReceiver } from '@tally/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dictReaderRows } from '../src/segment-file.js';
import { runCli } from './run-cli.js';

const KEY = 'wk-send-to-segment-SECRET-7731';
/** What the SDK puts on the wire from the key: Basic auth is base64 of `key:`. */
const KEY_FORMS = [KEY, Buffer.from(`${KEY}:`).toString('base64'), Buffer.from(KEY).toString('base64')];

const receiver = new SegmentReceiver();
let dir: string;

beforeAll(async () => {
  await receiver.start();
  dir = mkdtempSync(join(tmpdir(), 'tally-send-to-segment-'));
  mkdirSync(join(dir, 'in'));
});
afterAll(async () => {
  await receiver.stop();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => receiver.reset());

const env = () => ({ SEGMENT_WRITE_KEY: KEY, METRICS_UTILITY_SEGMENT_HOST: receiver.url });
const send = (args: string[], e: Record<string, string | undefined> = env()) => runCli(['send-to-segment', ...args], e, dir);
const file = (name: string, content: string | Buffer) => {
  writeFileSync(join(dir, name), content);
  return name;
};

interface Received {
  type: string;
  event: string;
  userId: string;
  context: Record<string, unknown>;
  properties: Record<string, unknown>;
}

/** The one event the receiver got, after checking it got exactly one request carrying one event. */
function onlyEvent(): Received {
  expect(receiver.requests).toHaveLength(1);
  expect(receiver.events).toHaveLength(1);
  return receiver.events[0] as unknown as Received;
}

function expectNoSecret(...outputs: string[]) {
  for (const out of outputs) for (const form of KEY_FORMS) expect(out).not.toContain(form);
}

/** Exit 2 with one line on stderr, nothing sent. */
function expectRefused(r: { code: number; stderr: string }, message: RegExp | string) {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(message);
  expect(receiver.requests).toHaveLength(0);
}

describe('tally send-to-segment against a loopback Segment receiver', () => {
  it('sends a CSV file as one {app}_data_upload event: its rows, the exact properties, context and user id', async () => {
    file('in/usage.csv', 'host,jobs,note\nh1,3,"a, b"\nh2,4\nh3,5,"two\nlines",extra\n');
    const before = Date.now();
    const r = await send(['--file', 'in/usage.csv', '--app', 'ansible-automation-platform']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('sent 3 row(s) of usage.csv to Segment as ansible-automation-platform_data_upload\n');
    const e = onlyEvent();
    expect(receiver.requests[0]!.auth).toBe(`Basic ${Buffer.from(`${KEY}:`).toString('base64')}`);
    expect(e.type).toBe('track');
    expect(e.event).toBe('ansible-automation-platform_data_upload');
    expect(e.userId).toBe('system');
    expect(e.context.app).toEqual({ name: 'ansible-automation-platform' });
    expect(Object.keys(e.properties)).toEqual(['filename', 'file_path', 'data', 'row_count', 'file_type', 'timestamp']);
    expect(e.properties).toMatchObject({
      filename: 'usage.csv',
      file_path: 'in/usage.csv',
      data: [
        { host: 'h1', jobs: '3', note: 'a, b' },
        { host: 'h2', jobs: '4', note: null },
        { host: 'h3', jobs: '5', note: 'two\nlines', null: ['extra'] },
      ],
      row_count: 3,
      file_type: 'csv',
    });
    const ts = e.properties.timestamp as string;
    expect(ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$/);
    expect(Date.parse(ts)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(Date.parse(ts)).toBeLessThanOrEqual(Date.now());
    expectNoSecret(r.stdout, r.stderr);
  });

  it('sends a JSON object wrapped in a list (row_count 1), with --user-id; the alias send_to_segment works', async () => {
    file('obj.json', '{"cluster": "c1", "nodes": 12, "ok": true, "nested": {"a": [1, 2.5, null]}}');
    const r = await runCli(['send_to_segment', '--file', 'obj.json', '--app', 'awx', '--user-id', 'user123'], env(), dir);
    expect(r.code, r.stderr).toBe(0);
    const e = onlyEvent();
    expect(e.event).toBe('awx_data_upload');
    expect(e.userId).toBe('user123');
    expect(e.context.app).toEqual({ name: 'awx' });
    expect(e.properties).toMatchObject({
      filename: 'obj.json',
      file_path: 'obj.json',
      data: [{ cluster: 'c1', nodes: 12, ok: true, nested: { a: [1, 2.5, null] } }],
      row_count: 1,
      file_type: 'json',
    });
  });

  it('sends a JSON list as it is (row_count = its length); a bare value becomes [{value}]', async () => {
    file('list.json', '[{"a": 1}, {"a": 2}, "three", [4]]');
    const r = await send(['--file', 'list.json', '--app', 'awx']);
    expect(r.code, r.stderr).toBe(0);
    expect(onlyEvent().properties).toMatchObject({ data: [{ a: 1 }, { a: 2 }, 'three', [4]], row_count: 4, file_type: 'json' });

    receiver.reset();
    file('scalar.json', '42');
    const s = await send(['--file', 'scalar.json', '--app', 'awx']);
    expect(s.code, s.stderr).toBe(0);
    expect(onlyEvent().properties).toMatchObject({ data: [{ value: 42 }], row_count: 1, file_type: 'json' });
  });

  it('reads any other file as CSV, as the reference does: a text file\'s first line names the field', async () => {
    file('notes.txt', 'hello world\nsecond line\nthird, with a comma\n');
    const r = await send(['--file', 'notes.txt', '--app', 'awx']);
    expect(r.code, r.stderr).toBe(0);
    expect(onlyEvent().properties).toMatchObject({
      filename: 'notes.txt',
      data: [{ 'hello world': 'second line' }, { 'hello world': 'third', null: [' with a comma'] }],
      row_count: 2,
      file_type: 'csv',
    });
    // The suffix is compared lower-cased: DATA.JSON is JSON.
    receiver.reset();
    file('DATA.JSON', '{"x": 1}');
    expect((await send(['--file', 'DATA.JSON', '--app', 'awx'])).code).toBe(0);
    expect(onlyEvent().properties).toMatchObject({ data: [{ x: 1 }], file_type: 'json' });
  });

  it('without SEGMENT_WRITE_KEY: exit 2 naming it, nothing sent (METRICS_UTILITY_SEGMENT_WRITE_KEY is not it)', async () => {
    file('k.csv', 'a\n1\n');
    const r = await send(['--file', 'k.csv', '--app', 'awx'], { METRICS_UTILITY_SEGMENT_WRITE_KEY: KEY, METRICS_UTILITY_SEGMENT_HOST: receiver.url });
    expectRefused(r, /^tally: send-to-segment needs SEGMENT_WRITE_KEY$/m);
  });

  it('a missing file, a directory, an empty --app or --user-id: exit 2, one line, nothing sent', async () => {
    expectRefused(await send(['--file', 'in/nope.csv', '--app', 'awx']), /^tally: send-to-segment: file not found: in\/nope\.csv$/m);
    expectRefused(await send(['--file', 'in', '--app', 'awx']), /^tally: send-to-segment: path is not a file: in$/m);
    file('ok.csv', 'a\n1\n');
    expectRefused(await send(['--file', 'ok.csv', '--app', '']), /--app must not be empty/);
    expectRefused(await send(['--file', 'ok.csv', '--app', 'awx', '--user-id', '']), /--user-id must not be empty/);
    expectRefused(await send(['--app', 'awx']), /required option '--file <path>' not specified/);
  });

  it('refuses a file over 32 KiB, and a smaller one whose event would pass 32 KiB, naming the file: exit 2, nothing sent', async () => {
    file('big.csv', `a\n${'1\n'.repeat(16_384)}`); // 32 770 bytes
    expectRefused(await send(['--file', 'big.csv', '--app', 'awx']), /^tally: send-to-segment: big\.csv is 32770 bytes, over 32768 bytes: .*not sent$/m);
    // 2.6 KB of CSV, but every row repeats the 100-character column name: about 35 KB of JSON.
    const column = 'c'.repeat(100);
    file('wide.csv', `${column}\n${'1\n'.repeat(300)}`);
    expectRefused(await send(['--file', 'wide.csv', '--app', 'awx']), /^tally: send-to-segment: wide\.csv: its event would be \d{5} bytes, over Segment's 32 KiB \(32768\) event limit; nothing was sent$/m);
    // 250 of those rows fit.
    file('wide-ok.csv', `${column}\n${'1\n'.repeat(250)}`);
    const ok = await send(['--file', 'wide-ok.csv', '--app', 'awx']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(Buffer.byteLength(receiver.requests[0]!.body)).toBeLessThan(32 * 1024);
  });

  it('refuses JSON that is invalid or holds a number JavaScript would change, and text that is not UTF-8, with the line', async () => {
    const refusedJson = async (name: string, content: string) => send(['--file', file(name, content), '--app', 'awx']);
    expectRefused(await refusedJson('bad.json', '{\n  "a": 1,\n  "b": }\n'), /^tally: send-to-segment: bad\.json: line 3, column 8: not valid JSON: unexpected "}"$/m);
    expectRefused(await refusedJson('short.json', '[1, 2'), /^tally: send-to-segment: short\.json: line 1, column 6: not valid JSON: the file ends too early$/m);
    expectRefused(await refusedJson('nan.json', '[NaN]'), /nan\.json: line 1, column 2: not valid JSON: unexpected "N"$/m);
    expectRefused(await refusedJson('bigint.json', '{"id": 12,\n "big": 12345678901234567890}'), /bigint\.json: line 2, column 9: 12345678901234567890 cannot be sent as written/);
    expectRefused(await refusedJson('huge.json', '[1e400]'), /huge\.json: line 1, column 2: 1e400 cannot be sent as written/);
    expectRefused(await send(['--file', file('latin1.csv', Buffer.from('a,b\n1,2\ncaf\xe9,3\n', 'latin1')), '--app', 'awx']), /^tally: send-to-segment: latin1\.csv: line 3 is not valid UTF-8$/m);
  });

  it('a receiver answering 503: exit 1 after the SDK\'s 3 retries, naming the file; the key is in no output, also with --verbose', async () => {
    receiver.status = () => 503;
    file('r.csv', 'a\n1\n');
    const r = await send(['--file', 'r.csv', '--app', 'awx', '--verbose']);
    expect(r.code, r.stderr).toBe(1);
    expect(receiver.requests.map((q) => q.status)).toEqual([503, 503, 503, 503]);
    expect(r.stderr).toMatch(/^tally: storage segment: r\.csv \(event awx_data_upload\) was not delivered: \[503\] Service Unavailable$/m);
    // --verbose logged every request, and the key travelled in each of them.
    expect(r.stderr.match(/"msg":"segment request"/g)).toHaveLength(4);
    expect(receiver.requests[0]!.body).toContain(KEY);
    expect(r.stdout).toBe('');
    expectNoSecret(r.stdout, r.stderr);

    receiver.reset();
    const ok = await send(['--file', 'r.csv', '--app', 'awx', '--verbose']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/"msg":"segment response","command":"send-to-segment","storage":"segment","status":200/);
    expectNoSecret(ok.stdout, ok.stderr);
  }, 60_000);
});

describe('dictReaderRows: csv.DictReader over a file opened in text mode (expected values from CPython 3.11)', () => {
  const rows = (text: string) => JSON.parse(JSON.stringify(dictReaderRows(text.replace(/\r\n?/g, '\n'))));
  it.each([
    ['quotes and embedded newlines', 'a,b\n"x, y","multi\nline"\n"say ""hi""",z\n', [{ a: 'x, y', b: 'multi\nline' }, { a: 'say "hi"', b: 'z' }]],
    ['short, long and blank rows', 'a,b\n1\n1,2,3,4\n\n2,3\n', [{ a: '1', b: null }, { a: '1', b: '2', null: ['3', '4'] }, { a: '2', b: '3' }]],
    ['quotes inside fields, an unterminated quote', 'a,b\nx"y,"p"q\n"open,end', [{ a: 'x"y', b: 'pq' }, { a: 'open,end', b: null }]],
    ['a blank first line is an empty header', '\nx,y\n1,2\n', [{ null: ['x', 'y'] }, { null: ['1', '2'] }]],
    ['CRLF and CR, also inside quotes', 'a,b\r\n1,"2\r\n3"\r\n', [{ a: '1', b: '2\n3' }]],
    ['a repeated column name: the last value, at the first place', 'a,a,b\n1,2\n', [{ a: '2', b: null }]],
    ['spaces kept; a line of one space is a row', 'a, b\n 1 , "2"\n \n', [{ a: ' 1 ', ' b': ' "2"' }, { a: ' ', ' b': null }]],
    ['the byte-order mark stays in the first name', '\ufeffid,v\n1,2\n', [{ '\ufeffid': '1', v: '2' }]],
    ['a lone quote at the end', 'a\n"', [{ a: '' }]],
    ['NUL is an ordinary character', 'a\u0000b,c\n1,2\n', [{ 'a\u0000b': '1', c: '2' }]],
    ['an empty file', '', []],
  ])('%s', (_, text, expected) => {
    expect(rows(text)).toEqual(expected);
  });
});
