/**
 * Set- and dict-valued cells as the reference's `convert_cell` writes them: Python's
 * `json.dumps` (separators `", "` and `": "`, non-ASCII escaped as `\uXXXX`) of sorted lists and
 * of dicts whose set values are sorted lists.
 */
import type { FactPair } from '@tally/dataframes';

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** A JSON text as Python's json.dumps writes it with ensure_ascii (escapes DEL and everything past `~`). */
function asciiString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Python's `json.dumps(value)` with its default settings. */
export function pythonJson(value: Json): string {
  if (typeof value === 'string') return asciiString(value);
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .map(([k, v]) => `${asciiString(k)}: ${pythonJson(v)}`)
      .join(', ')}}`;
  }
  return JSON.stringify(value);
}

/** A set (or a list of strings) cell: its sorted values as a JSON list. */
export function setCell(values: readonly string[]): string {
  return pythonJson([...values].sort());
}

/**
 * A facts cell: `{key: [values…]}` with each key's values sorted. Keys come in sorted order (the
 * reference keeps the order in which rows first named them, which depends on load order).
 */
export function factsCell(pairs: readonly FactPair[]): string {
  const out: Record<string, string[]> = {};
  for (const { key, value } of [...pairs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    const list = out[key] ?? [];
    list.push(value);
    out[key] = list;
  }
  for (const list of Object.values(out)) list.sort();
  return pythonJson(out);
}
