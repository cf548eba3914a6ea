/**
 * job_host_summary.csv texts for the hostile-input tests of dataframes, reports and the CLI: a
 * good one, bad ones (each refuses its tarball at a known line) and unusual but valid ones.
 */
const COLUMNS =
  'id,created,modified,host_name,host_remote_id,ansible_host_variable,ansible_connection_variable,changed,dark,failures,ok,processed,skipped,failed,ignored,rescued,job_created,job_remote_id,job_template_remote_id,job_template_name,inventory_remote_id,inventory_name,organization_remote_id,organization_name,project_remote_id,project_name'.split(',');

/** The schema-1.2 header. */
export const JHS_HEADER_12 = COLUMNS.join(',');

/**
 * One schema-1.2 row, every field as written (raw CSV text: quotes are not added). `id` also
 * seeds the host id; `fields` overrides any column.
 */
export function jhsRow(id: number, host: string, fields: Record<string, string> = {}): string {
  const v: Record<string, string> = {
    id: String(id),
    created: `2024-03-06 12:00:${String(id % 60).padStart(2, '0')}+00`,
    modified: '2024-03-06 12:01:00+00',
    host_name: host,
    host_remote_id: String(id),
    ansible_host_variable: '',
    ansible_connection_variable: 'ssh',
    changed: '0',
    dark: '0',
    failures: '0',
    ok: '2',
    processed: '1',
    skipped: '0',
    failed: 'f',
    ignored: '0',
    rescued: '1',
    job_created: '2024-03-06 11:59:00+00',
    job_remote_id: String(60 + (id % 3)),
    job_template_remote_id: '7',
    job_template_name: 'Deploy',
    inventory_remote_id: '1',
    inventory_name: 'Inv',
    organization_remote_id: '1',
    organization_name: 'Org A',
    project_remote_id: '6',
    project_name: 'P',
    ...fields,
  };
  return COLUMNS.map((c) => v[c]).join(',');
}

/** Lines as a CSV text (`\n` after each). */
export const csvLines = (...lines: string[]) => lines.map((l) => `${l}\n`).join('');

/** The good tarball's CSV: three hosts, one organization name quoted (it holds a comma). */
export const GOOD_JHS = csvLines(JHS_HEADER_12, jhsRow(1, 'g1'), jhsRow(2, 'g2', { organization_name: '"Org, B"' }), jhsRow(3, 'g3', { ok: '5' }));

export interface HostileCase {
  name: string;
  csv: string;
  /** The line the refusal names. */
  line: number;
  /** What the refusal says. */
  reason: RegExp;
}

/** Bad CSVs: each refuses its whole tarball. */
export const HOSTILE_JHS: readonly HostileCase[] = [
  { name: 'unterminated quote in the first row', csv: csvLines(JHS_HEADER_12, jhsRow(1, '"b1'), jhsRow(2, 'b2'), jhsRow(3, 'b3')), line: 2, reason: /unterminated quote/ },
  {
    name: 'unterminated quote in a middle row (a later row has quotes)',
    csv: csvLines(JHS_HEADER_12, jhsRow(1, 'b1'), jhsRow(2, '"b2'), jhsRow(3, 'b3', { organization_name: '"Org, B"' }), jhsRow(4, 'b4')),
    line: 3,
    reason: /quote/,
  },
  { name: 'unterminated quote in the last row', csv: csvLines(JHS_HEADER_12, jhsRow(1, 'b1'), jhsRow(2, 'b2'), jhsRow(3, '"b3')), line: 4, reason: /unterminated quote/ },
  {
    name: 'a header that is no known schema',
    csv: csvLines(JHS_HEADER_12.replace('host_name', 'hostname'), jhsRow(1, 'b1')),
    line: 1,
    reason: /header is not a known job_host_summary\.csv schema .*unexpected "hostname"; missing "host_name"/,
  },
  { name: 'a missing field', csv: csvLines(JHS_HEADER_12, jhsRow(1, 'b1'), jhsRow(2, 'b2').replace(/,P$/, '')), line: 3, reason: /missing fields \(expected 26, found 25\)/ },
  { name: 'an extra field', csv: csvLines(JHS_HEADER_12, `${jhsRow(1, 'b1')},extra`, jhsRow(2, 'b2')), line: 2, reason: /extra fields \(expected 26, found 27\)/ },
  { name: 'a count that is not an integer', csv: csvLines(JHS_HEADER_12, jhsRow(1, 'b1'), jhsRow(2, 'b2', { ok: '2.5' })), line: 3, reason: /column ok: "2\.5" is not an integer/ },
  { name: 'a job id that is not a number', csv: csvLines(JHS_HEADER_12, jhsRow(1, 'b1', { job_remote_id: 'x61' })), line: 2, reason: /column job_remote_id: "x61" is not an integer/ },
  {
    name: 'a bad timestamp',
    csv: csvLines(JHS_HEADER_12, jhsRow(1, 'b1'), jhsRow(2, 'b2', { created: '2024-02-30 10:00:00+00' })),
    line: 3,
    reason: /column created: "2024-02-30 10:00:00\+00" is not a timestamp/,
  },
  {
    name: 'a bad timestamp in an unreachable row',
    csv: csvLines(JHS_HEADER_12, jhsRow(1, 'b1'), jhsRow(2, 'b2', { dark: '1', ok: '0', rescued: '0', job_created: 'yesterday' })),
    line: 3,
    reason: /column job_created: "yesterday" is not a timestamp/,
  },
];

export interface ValidCase {
  name: string;
  csv: string;
  /** The same rows as plain text (no BOM, `\n` line ends). */
  plain: string;
}

const VALID_ROWS = [jhsRow(11, 'v1'), jhsRow(12, 'v2', { job_template_name: '"multi\nline, ""quoted"""' })];

/** Unusual CSVs that are valid: their tarballs load. */
export const VALID_JHS: readonly ValidCase[] = [
  { name: 'a UTF-8 BOM', csv: `\ufeff${csvLines(JHS_HEADER_12, ...VALID_ROWS)}`, plain: csvLines(JHS_HEADER_12, ...VALID_ROWS) },
  { name: 'CRLF line ends', csv: [JHS_HEADER_12, ...VALID_ROWS].map((l) => `${l}\r\n`).join(''), plain: csvLines(JHS_HEADER_12, ...VALID_ROWS) },
  { name: 'an empty file', csv: '', plain: '' },
  { name: 'a header-only file', csv: csvLines(JHS_HEADER_12), plain: '' },
];
