// The synthetic controller lives in @tally/demo (`tally demo` ships it); this path stays for tools and tests.
export { type SeedOptions, type SeedSummary, seedController, seededUuid } from '../../packages/demo/src/seed.js';
