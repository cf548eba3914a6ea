export { tarballName, tarballStorageName } from './names.js';
export type { StatusEntry } from './status.js';
export { type DataMember, type MemberSource, type TarballContents, type WriteTarballOptions, type WrittenTarball, writeTarball } from './tarball.js';
export { type Bundle, FirstFitPacker, type PackItem } from './packer.js';
export { readTarballMembers, type TarMember } from './read.js';
export { splitCsvFile } from './split.js';
