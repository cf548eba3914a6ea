import { readFile } from 'node:fs/promises';
import type { Queryable } from '@tally/core';

const CONTROLLER_SCHEMA_PATH = new URL('../schema.sql', import.meta.url);

/** The statements of schema.sql (it holds no function bodies, so `;` at a line end separates them). */
export async function controllerSchemaStatements(): Promise<string[]> {
  const text = await readFile(CONTROLLER_SCHEMA_PATH, 'utf8');
  return text
    .split(/;\s*$/m)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter(Boolean);
}

/**
 * Create the synthetic controller tables (idempotent: `IF NOT EXISTS`). One statement
 * per call, so it works over node-postgres and PGlite alike.
 */
export async function applyControllerSchema(db: Queryable): Promise<void> {
  for (const stmt of await controllerSchemaStatements()) await db.query(stmt);
}

/** Tables schema.sql creates, children before parents (for TRUNCATE/DROP). */
export const CONTROLLER_TABLES = [
  'main_unifiedjob_credentials',
  'main_credential',
  'main_credentialtype',
  'main_hostmetric',
  'main_indirectmanagednodeaudit',
  'main_jobevent',
  'main_jobhostsummary',
  'main_host',
  'main_job',
  'main_project',
  'main_unifiedjob',
  'main_unifiedjobtemplate',
  'main_inventory',
  'main_executionenvironment',
  'main_organization',
  'main_instance',
  'conf_setting',
  'django_content_type',
  'dab_feature_flags_aapflag',
  'tasks_taskexecution',
] as const;

/** Empty every synthetic table and restart its ids. */
export async function truncateController(db: Queryable): Promise<void> {
  await db.query(`TRUNCATE ${CONTROLLER_TABLES.join(', ')} RESTART IDENTITY`);
}
