export * from './gather.js';
export * from './state.js';
export * from './state-postgres.js';
export * from './state-file.js';
export * from './window.js';
export * from './select.js';
export * from './config-doc.js';
