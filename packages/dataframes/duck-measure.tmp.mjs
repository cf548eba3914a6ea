// temporary: one statement at one thread (callgrind measurement)
import { DuckDBInstance } from '@duckdb/node-api';
const [mode, path] = process.argv.slice(2);
const db = await DuckDBInstance.create(':memory:', { threads: '1' });
const c = await db.connect();
const kept = 'created,host_name,host_remote_id,ansible_host_variable,dark,failures,ok,skipped,ignored,rescued,job_created,job_remote_id,job_template_name,organization_name'.split(',');
const ints = new Set(['created', 'job_created', 'dark', 'failures', 'ok', 'skipped', 'ignored', 'rescued', 'job_remote_id']);
const csv = `read_csv('${path}', header = true, auto_detect = false, delim = ',', quote = '"', escape = '"', decimal_separator = ',', columns = {${kept.map((n) => `'${n}': '${ints.has(n) ? 'BIGINT' : 'VARCHAR'}'`).join(', ')}}, strict_mode = true, null_padding = false)`;
const from = mode === 'parquet' ? `read_parquet('${path}')` : mode === 'csv' ? csv : null;
const sql = from ? `SELECT count(*), sum(hash(${kept.join(', ')})) FROM ${from}` : 'SELECT 1';
const r = await c.runAndReadAll(sql);
console.log(mode, JSON.stringify(r.getRowsJson()));
