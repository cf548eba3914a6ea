export { type EmbeddedPostgres, startEmbeddedPostgres } from './embedded-postgres.js';
export { applyControllerSchema, CONTROLLER_TABLES, truncateController } from './schema.js';
export { type SeedOptions, type SeedSummary, seedController, seededUuid } from './seed.js';
