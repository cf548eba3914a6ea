import { open } from 'node:fs/promises';
import { ExtractError } from '@tally/core';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The header of a CSV file (first line; BOM, CR and quotes stripped). An empty file gives `[]`.
 * Names must be plain identifiers: they end up in a `read_csv(columns=…)` argument.
 */
export async function readCsvHeader(path: string, source = path): Promise<string[]> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    let text = buf.subarray(0, bytesRead).toString('utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const nl = text.indexOf('\n');
    if (nl < 0 && bytesRead === buf.length) throw new ExtractError(source, 'CSV header line longer than 64 KiB');
    const line = (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, '');
    if (line.trim() === '') return [];
    return line.split(',').map((raw) => {
      const name = raw.trim().replace(/^"(.*)"$/, '$1');
      if (!NAME.test(name)) throw new ExtractError(source, `CSV header has an unexpected column name "${name}"`);
      return name;
    });
  } finally {
    await fh.close();
  }
}

/**
 * DuckDB `read_csv` call for `path` as parameter `$n`, every header column read as VARCHAR
 * unless `types` names another type for it (plain identifiers, like the header names). Short
 * rows are padded with NULLs unless `padShortRows` is false (a faster scan that fails on them).
 */
export function readCsvSql(
  header: readonly string[],
  param: string,
  types: Readonly<Record<string, string>> = {},
  padShortRows = true,
): string {
  const columns = header.map((c) => `'${c}': '${types[c] ?? 'VARCHAR'}'`).join(', ');
  return (
    `read_csv(${param}, header = true, auto_detect = false, delim = ',', quote = '"', escape = '"', ` +
    `columns = {${columns}}, strict_mode = false, null_padding = ${padShortRows})`
  );
}

/**
 * Does the CSV file hold a data row after its header (a non-blank line, as pandas counts rows)?
 * Reads only as far as the first such line.
 */
export async function csvHasRows(path: string, source = path): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    let pos = 0;
    let headerDone = false;
    let inQuotes = false;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) return false;
      pos += bytesRead;
      for (let i = 0; i < bytesRead; i++) {
        const c = buf[i]!;
        if (!headerDone) {
          // A header may not be quoted across lines, but a quote keeps a newline inside it.
          if (c === 0x22) inQuotes = !inQuotes;
          else if (c === 0x0a && !inQuotes) headerDone = true;
          continue;
        }
        if (c !== 0x0a && c !== 0x0d && c !== 0x20 && c !== 0x09) return true;
      }
    }
  } catch (err) {
    throw new ExtractError(source, `CSV could not be read: ${(err as Error).message}`, { cause: err });
  } finally {
    await fh.close();
  }
}
