export * from './postgres.js';
export { parseCsvRows } from './csv.js';
