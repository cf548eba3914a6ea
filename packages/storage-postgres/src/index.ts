export * from './postgres.js';
export { parseCsvRows } from '@tally/core';
