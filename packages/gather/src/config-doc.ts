/** billing_provider_params fields that may be persisted in config.json; anything else is dropped. */
export const SAFE_BILLING_FIELDS: readonly string[] = [
  'ship_path',
  'bucket_name',
  'bucket_endpoint',
  'bucket_region',
  'billing_provider',
  'billing_account_id',
  'red_hat_org_id',
];

const SECRET_KEY = /(secret|password|passwd|token|access_key|accesskey|private|authorization|credential|api_key|apikey|write_key|writekey)/i;

/** Keep only the allowed billing fields (snake_case or camelCase input), and only strings/numbers/booleans. */
export function safeBillingParams(params: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!params) return out;
  for (const [k, v] of Object.entries(params)) {
    const snake = k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if (!SAFE_BILLING_FIELDS.includes(snake)) continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[snake] = v;
  }
  return out;
}

/** A copy of a JSON document without any key that looks like it holds a secret, at any depth. */
export function dropSecretKeys(value: unknown, depth = 0): unknown {
  if (depth > 20) return null;
  if (Array.isArray(value)) return value.map((v) => dropSecretKeys(v, depth + 1));
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (!SECRET_KEY.test(k)) out[k] = dropSecretKeys(v, depth + 1);
    return out;
  }
  return value;
}

/**
 * An error message safe to log and persist: `password=…`-style pairs and URL
 * credentials replaced (the logger masks registered secret values on top).
 */
export function scrubMessage(message: string): string {
  return message
    .replace(new RegExp(`(${SECRET_KEY.source.slice(1, -1)})(\\s*[=:]\\s*)([^\\s,;)&]+)`, 'gi'), '$1$2[redacted]')
    .replace(/(\/\/[^:/@\s]+):[^@/\s]+@/g, '$1:[redacted]@');
}
