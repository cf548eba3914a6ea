/**
 * The native CSV preparer (native/csv-prepare.c, built by native/build.mjs at install and by `pnpm build`): rewrites
 * a strict CSV into a Parquet file DuckDB reads with far less work than the CSV (no tokenizing, no number parsing) —
 * only the used columns, text as the decoded strings, counts and timestamps (epoch microseconds) as INT64. It refuses
 * whenever the input is outside these rules, and refusal is always safe: the caller then reads the raw file the strict
 * old way (which also gives the exact error messages).
 *
 * 1. The first line is exactly `header.join(',')` and `\n` (no BOM, no `\r`, no quotes); `kinds.length === header.length`.
 * 2. No byte 0x00 and no `\r` anywhere; every field is valid UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
 * 3. Each following line is a row of exactly `header.length` fields separated by `,`, ending with `\n` (the last row
 *    may end at the end of the file). No empty line anywhere. A row longer than 1,000,000 bytes refuses.
 * 4. A field is unquoted (holds no `"`) or quoted per RFC 4180 (`""` inside is a quote; `,` and `\n` allowed; the
 *    closing `"` is followed by `,`, `\n` or the end); quoted fields only in kinds `text` and `skip`.
 * 5. `count`: empty, or `-?[0-9]{1,15}`; written as INT64 (empty: NULL).
 * 6. `timestamp`: empty, or `YYYY-MM-DD HH:MM:SS[.f{1,6}]+00`, a valid UTC date and time with year 1000–9999;
 *    written as INT64 epoch microseconds (empty: NULL; SQL turns them into timestamps with make_timestamp).
 * 7. `text`: written as a UTF-8 string, the value DuckDB's CSV reader gives for the field: unquoted as it is, quoted
 *    without its quotes and with `""` as `"`; an empty field, quoted or not, is NULL (spaces are text). `skip`:
 *    checked, not written.
 *
 * The output is a Parquet file (native/parquet-out.c): the non-skip columns in header order, named as in the header,
 * all OPTIONAL; uncompressed PLAIN pages, a row group per 122,880 rows (fewer when its values reach 64 MiB).
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export type CsvFieldKind = 'skip' | 'text' | 'count' | 'timestamp';

interface CsvPrepareAddon {
  prepare(input: string, output: string, header: readonly string[], kinds: readonly CsvFieldKind[]): Promise<{ rows: number } | { refused: string }>;
}

const KINDS: ReadonlySet<string> = new Set<CsvFieldKind>(['skip', 'text', 'count', 'timestamp']);

/** The addon, or undefined when it is not built (no C compiler or Node headers) or does not load here. */
function loadAddon(): CsvPrepareAddon | undefined {
  // A computed path: the CLI bundler inlines `createRequire(import.meta.url)('literal')` requires.
  const path = fileURLToPath(new URL('../native/build/csv-prepare.node', import.meta.url));
  try {
    return createRequire(import.meta.url)(path) as CsvPrepareAddon;
  } catch {
    return undefined;
  }
}

const addon = loadAddon();

/** Whether the native preparer is built and loaded. */
export const csvPrepareNative: boolean = addon !== undefined;

/**
 * Write the Parquet file `output` from the CSV `input` (see the rules above): `{ rows }` (data rows written) when written, `{ refused }`
 * when the input is outside the rules (output then removed; the reason names the 1-based line and the column).
 * Runs on libuv's thread pool, never on the JS thread; the addon reads (in 4 MiB steps) and writes the files itself,
 * holding at most a row group of output in memory.
 * Rejects on an I/O error (input missing, output not writable, output the same file as input).
 * Without the addon: `{ refused: 'native CSV preparation is not built' }`.
 */
export async function prepareCsvFile(
  input: string,
  output: string,
  header: readonly string[],
  kinds: readonly CsvFieldKind[],
): Promise<{ rows: number } | { refused: string }> {
  // Refused before anything is written (output is not touched: it might even be the input).
  if (!addon) return { refused: 'native CSV preparation is not built' };
  if (kinds.length !== header.length) return { refused: `${kinds.length} kinds for ${header.length} header columns` };
  const unknown = kinds.find((k) => !KINDS.has(k));
  if (unknown !== undefined) return { refused: `unknown field kind ${JSON.stringify(unknown)}` };
  return addon.prepare(input, output, [...header], [...kinds]);
}

