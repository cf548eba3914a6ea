// The synthetic controller's schema lives in @tally/demo (`tally demo` ships it); this path stays for tools and tests.
export { applyControllerSchema, CONTROLLER_TABLES, controllerSchemaStatements, truncateController } from '../../packages/demo/src/schema.js';
