import { readFile } from 'node:fs/promises';
import { ExtractError, errorMessage, tempdir } from '@tally/core';
import { extractInWorker } from './extract-in-worker.js';
import type { ExtractedTarball, ExtractLimits, TarballDigest } from './types.js';

export { DEFAULT_MAX_MEMBERS, DEFAULT_MAX_TOTAL_BYTES } from './extract-file.js';

/**
 * Extract the wanted `.csv`/`.json` members of a local `.tar.gz` into `destDir`, on a worker
 * thread (see extract-worker.ts). Only regular top-level members named like `name.csv`/`name.json`
 * are written; directories, AppleDouble `._*` files and unwanted members are skipped. Symlinks,
 * hard links, devices, FIFOs, absolute or `..` paths, duplicates, more than `maxMembers` entries
 * or more than `maxTotalBytes` of data refuse the whole tarball. Caps are enforced while
 * inflating, so a gzip bomb stops early. Throws an `ExtractError` naming `name`; `destDir` may
 * then hold partial files and must be discarded.
 */
export async function extractTarballFile(
  path: string,
  destDir: string,
  name: string,
  limits: ExtractLimits = {},
): Promise<Map<string, string>> {
  return (await extractTarballDigest(path, destDir, name, limits)).files;
}

/** `extractTarballFile` plus the tarball's SHA-256 and size as read, and each CSV member's record count. */
async function extractTarballDigest(path: string, destDir: string, name: string, limits: ExtractLimits): Promise<TarballDigest & { files: Map<string, string> }> {
  const only = limits.only === undefined ? undefined : typeof limits.only === 'string' ? [limits.only] : [...limits.only];
  try {
    const x = await extractInWorker(path, destDir, { only, maxMembers: limits.maxMembers, maxTotalBytes: limits.maxTotalBytes });
    return { files: new Map(x.files), sha256: x.sha256, size: x.size, records: new Map(x.records) };
  } catch (err) {
    throw new ExtractError(name, errorMessage(err), { cause: err });
  }
}

/** Extract a local tarball into a fresh private temp directory (removed again on failure). */
export async function extractTarball(
  path: string,
  opts: ExtractLimits & { name?: string; tempParent?: string } = {},
): Promise<ExtractedTarball> {
  const name = opts.name ?? path;
  const dir = await tempdir('tally-extract', opts.tempParent);
  let files: Map<string, string>;
  let digest: TarballDigest;
  try {
    ({ files, ...digest } = await extractTarballDigest(path, dir.path, name, opts));
  } catch (err) {
    await dir.remove();
    throw err;
  }
  let config: Promise<Record<string, unknown> | undefined> | undefined;
  const release = () => dir.remove();
  return {
    name,
    dir: dir.path,
    files,
    ...digest,
    file: (member: string) => files.get(member),
    config: () => {
      config ??= readConfig(files.get('config.json'));
      return config;
    },
    release,
    [Symbol.asyncDispose]: release,
  };
}

async function readConfig(path: string | undefined): Promise<Record<string, unknown> | undefined> {
  if (!path) return undefined;
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
