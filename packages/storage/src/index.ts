export * from './storage.js';
export * from './names.js';
export * from './body.js';
export * from './directory.js';
export * from './shared.js';
