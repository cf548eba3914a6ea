export { run, EXIT } from './main.js';
export { buildProgram } from './program.js';
export type { CliIO } from './io.js';
export * from './cron.js';
export * from './schedule-store.js';
export * from './scheduler.js';
export * from './schedule-config.js';
export { readStatus, formatStatus, type CollectorStatus, type StatusReport } from './status-command.js';
export { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.js';
