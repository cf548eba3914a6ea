export * from './chunk.js';
export * from './segment.js';
