export * from './postgres-server.js';
export * from './database.js';
export * from './fixtures.js';
export * from './storage-contract.js';
export * from './data-set-receiver.js';
export * from './csv.js';
export * from './hostile-csv.js';
export * from './random.js';
