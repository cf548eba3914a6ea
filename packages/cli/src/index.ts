export { EXIT, run } from './main.js';
export { buildProgram } from './program.js';
export type { CliIO } from './io.js';
