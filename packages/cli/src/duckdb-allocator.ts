/**
 * DuckDB's allocator (its own jemalloc) gives freed pages back to the OS within about a second, and every
 * CSV buffer, hash table and row group of the next statement faults them in again: in a day rollup of the
 * bench month that was ~3 of its ~6.5 system CPU-s (perf: page faults under the CSV reads, madvise and TLB
 * flushes). With 30 s, a command reuses its pages while it runs; a long-running `schedule` still hands them
 * back once idle. jemalloc reads the variable when DuckDB first allocates, which loading the binding already
 * does: so the bin imports this module before anything else. A value the user set wins. (A process-wide
 * setting, so the command sets it, not the libraries.)
 */
export const DUCKDB_ALLOCATOR_CONF = 'dirty_decay_ms:30000,muzzy_decay_ms:30000';
process.env.DUCKDB_JE_MALLOC_CONF ??= DUCKDB_ALLOCATOR_CONF;
