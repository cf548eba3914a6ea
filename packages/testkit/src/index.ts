export * from './postgres-server.js';
export * from './database.js';
export * from './fixtures.js';
