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
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
    return Number.isInteger(value) && !Object.is(value, -0) ? String(value) : pyFloat(value);
  }
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

function pyFloat(n: number): string {
  const s = String(n);
  return /[.eE]/.test(s) ? s.replace(/e\+?/, 'e+').replace('e+-', 'e-') : `${s}.0`;
}

function escapeNonAscii(s: string): string {
  return s.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Byte length of the UTF-8 encoding of `pythonJson(value)`. */
export function pythonJsonSize(value: unknown): number {
  return Buffer.byteLength(pythonJson(value), 'utf8');
}
