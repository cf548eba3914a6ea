export * from './postgres-server.js';
export * from './database.js';
export * from './fixtures.js';
export * from './storage-contract.js';
export * from './indirect-lake.js';
