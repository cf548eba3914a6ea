export * from './names.js';
export * from './status.js';
export * from './tarball.js';
export * from './packer.js';
export * from './read.js';
export * from './split.js';
