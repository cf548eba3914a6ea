export * from './types.js';
export type { TarballDigest } from './types.js';
export { DEFAULT_MAX_MEMBERS, DEFAULT_MAX_TOTAL_BYTES, extractTarball, extractTarballFile } from './safe-extract.js';
export { dayFolders, listTarballs } from './days.js';
export { extractAll, extractRange, iterateTarballs } from './range.js';
export { packTarball, type PackMember } from './pack.js';
export * from './schemas.js';
