export { type GlobOptions, isStore, type LocalFile, type PutSource, type Sink, type Store } from './storage.js';
export { DirectoryStorage, type DirectoryOptions } from './directory.js';
// For backend authors: the one way a source becomes a body, and the name rules every backend shares.
export { type PutBody, putBody, type PutBodyOptions } from './body.js';
export { checkName, dateFilter, globPrefix, globToRegExp } from './names.js';
export { tempLocalFile } from './shared.js';
