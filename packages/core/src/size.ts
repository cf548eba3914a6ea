import { ConfigError } from './errors.js';

const UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, KB: 1024, KIB: 1024, M: 1024 ** 2, MB: 1024 ** 2, MIB: 1024 ** 2, G: 1024 ** 3, GB: 1024 ** 3, GIB: 1024 ** 3 };

/** Parse a byte size such as `200M`, `1.5G`, `512KiB` or `1048576` (binary units). */
export function parseSize(value: string | number, field = 'size'): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value > 0) return Math.floor(value);
  } else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
    const unit = m ? UNITS[m[2]!.toUpperCase()] : undefined;
    if (m && unit !== undefined && Number(m[1]) > 0) return Math.floor(Number(m[1]) * unit);
  }
  throw new ConfigError(`${field}: "${value}" is not a size; expected a positive number with an optional unit K, M or G (e.g. 100M)`, { field });
}

export const MiB = 1024 * 1024;
/** The reference's MAX_DATA_SIZE: per-tarball uncompressed budget and CSV split threshold. */
export const DEFAULT_MAX_DATA_SIZE = 200 * MiB;
