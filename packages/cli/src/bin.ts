#!/usr/bin/env node
// First: it configures DuckDB's allocator, which must happen before the binding loads.
import './duckdb-allocator.js';
import { run } from './main.js';

const code = await run(process.argv.slice(2));
// Let stdout/stderr drain, then leave even if a library left a handle open.
process.exitCode = code;
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
