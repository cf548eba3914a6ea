/**
 * JSON text exactly as Python's `json.dumps` writes it by default: `", "` and
 * `": "` separators and non-ASCII escaped as `\uXXXX`. Needed wherever Tally must
 * produce byte-identical output to metrics-utility (manifest.json, Segment chunk sizes).
 */
export function pythonJson(value: unknown): string {
  return escapeNonAscii(dump(value));
}

function dump(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') return Number.isInteger(value) && !Object.is(value, -0) ? String(value) : pythonFloat(value);
  if (typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(dump).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${dump(v)}`).join(', ')}}`;
  }
  return JSON.stringify(String(value));
}

/**
 * A float as Python's `repr` (and json.dumps) writes it: the shortest digits that read back
 * the same (as JavaScript's), in exponent form (`1e+16`, `1e-05`) when the decimal point falls
 * more than 16 digits left or 4 right of the first digit, else with at least one decimal (`4.0`).
 */
export function pythonFloat(n: number): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity';
  const sign = n < 0 || Object.is(n, -0) ? '-' : '';
  const [mantissa = '0', exp = '0'] = Math.abs(n).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const point = Number(exp) + 1; // digits before the decimal point
  if (point > 16 || point < -3) {
    const e = Number(exp);
    return `${sign}${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}.0`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** ensure_ascii: everything outside space..`~` that JSON.stringify left as is (DEL and beyond). */
function escapeNonAscii(s: string): string {
  return s.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Byte length of the UTF-8 encoding of `pythonJson(value)`. */
export function pythonJsonSize(value: unknown): number {
  return Buffer.byteLength(pythonJson(value), 'utf8');
}
