import type { ExtractedTarball, ExtractLimits } from './types.js';

export const DEFAULT_MAX_MEMBERS = 100;
export const DEFAULT_MAX_TOTAL_BYTES = 1024 ** 3;

/**
 * Extract the wanted `.csv`/`.json` members of a local `.tar.gz` into `destDir`.
 * Throws an `ExtractError` naming `name` when the tarball is corrupt, truncated, unsafe
 * or over a cap; `destDir` may then hold partial files and must be discarded.
 */
export async function extractTarballFile(
  _path: string,
  _destDir: string,
  _name: string,
  _limits: ExtractLimits = {},
): Promise<Map<string, string>> {
  throw new Error('not implemented');
}

/** Extract a local tarball into a fresh private temp directory (removed on failure). */
export async function extractTarball(
  _path: string,
  _opts: ExtractLimits & { name?: string; tempParent?: string } = {},
): Promise<ExtractedTarball> {
  throw new Error('not implemented');
}
