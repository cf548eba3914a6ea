import { readFile } from 'node:fs/promises';
import { errorMessage, loadConfig, TallyError } from '@tally/core';
import { anonymizedRollupOfDay } from '@tally/dataframes';
import { type CliIO, cliLogger } from './io.js';
import { createStore } from './storage-factory.js';

export interface AnonymizedRollupCommandOptions {
  since: Date;
  until?: Date;
  /** The reference's `collections.json` (`{"ns.coll": "certified", …}`): its keys are the known collections. */
  collections?: string;
  config?: string;
}

const DAY_MS = 86_400_000;

/** Storage name of a day's payload. */
export function anonymizedRollupName(day: Date): string {
  return `rollups/anonymized/period=day/date=${day.toISOString().slice(0, 10)}/payload.json`;
}

async function knownCollections(path: string | undefined): Promise<string[]> {
  if (path === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new TallyError(`rollup --anonymized: --collections ${path}: ${errorMessage(err)}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new TallyError(`rollup --anonymized: --collections ${path}: not a JSON object of collection names`);
  }
  return Object.keys(parsed);
}

/**
 * `tally rollup --anonymized`: the newest metrics-utility's anonymized payload of every UTC day
 * of `[since, until)`, one JSON file per day under {ship_path}/rollups/anonymized/.
 */
export async function anonymizedRollupCommand(opts: AnonymizedRollupCommandOptions, io: CliIO): Promise<void> {
  const cfg = loadConfig({ env: io.env, ...(opts.config ? { file: opts.config } : {}) });
  const logger = cliLogger(io, { command: 'rollup' });
  const until = opts.until ?? new Date();
  const first = Math.floor(opts.since.getTime() / DAY_MS) * DAY_MS;
  if (first >= until.getTime()) throw new TallyError(`rollup: --since ${opts.since.toISOString()} is not before --until ${until.toISOString()}`);
  const known = await knownCollections(opts.collections);
  if (opts.collections === undefined) logger.warn('rollup --anonymized without --collections: every installed and indirect collection is dropped from the payload');
  const storage = await createStore(cfg, 'rollup', { logger });
  const refused: string[] = [];
  try {
    for (let t = first; t < until.getTime(); t += DAY_MS) {
      const day = new Date(t);
      const date = day.toISOString().slice(0, 10);
      let result: Awaited<ReturnType<typeof anonymizedRollupOfDay>>;
      try {
        result = await anonymizedRollupOfDay({ storage, day, knownCollections: known, logger });
      } catch (err) {
        // A day the rollup refuses (job events, a bad CSV) gets no payload; the other days still do.
        refused.push(`${date}: ${errorMessage(err)}`);
        logger.error('anonymized rollup refused', { date, error: errorMessage(err) });
        continue;
      }
      const name = anonymizedRollupName(day);
      await storage.put(name, { buffer: `${JSON.stringify(result.payload, null, 2)}\n` });
      io.stdout.write(`${name}\n`);
      logger.info('anonymized rollup written', { name, tarballs: result.tarballs.length, failures: result.failures.length });
    }
  } finally {
    await storage.close?.();
  }
  if (refused.length > 0) throw new TallyError(`rollup --anonymized: no payload for ${refused.length} day(s):\n${refused.join('\n')}`);
}
