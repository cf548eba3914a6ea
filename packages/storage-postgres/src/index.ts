export { type Base64Value, createStorageTable, PostgresStorage, type PostgresStorageOptions, type StorageTableOptions } from './postgres.js';
