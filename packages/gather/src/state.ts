/** What `tally status` shows per collector key. */
export interface CollectorStatus {
  key: string;
  /** Data is gathered and delivered, without gaps, up to (excluding) this instant. */
  watermark?: Date;
  lastRunAt?: Date;
  lastSuccessAt?: Date;
  lastErrorAt?: Date;
  /** The last error, without secrets. */
  lastError?: string;
  /** Runs in a row that ended in an error for this key (0 after a success). */
  consecutiveFailures: number;
}

export type RunOutcome = { at: Date; ok: true } | { at: Date; ok: false; error: string };

/**
 * Where gather keeps per-key watermarks ("last gathered entries") and per-key
 * run status. Implementations must make `advance` atomic over all keys given,
 * and never move a watermark backwards.
 */
export interface StateStore {
  /** `postgres` or `file`, for messages. */
  readonly kind: string;
  /** Create storage if missing (idempotent). Reads never create it: a store that is not there reads as empty. */
  init(): Promise<void>;
  watermarks(): Promise<Map<string, Date>>;
  advance(marks: ReadonlyMap<string, Date>): Promise<void>;
  recordRun(key: string, outcome: RunOutcome): Promise<void>;
  statuses(): Promise<CollectorStatus[]>;
}

/** The status of every collector key the store knows, sorted by key: the reader behind `tally status`. Writes nothing. */
export async function readCollectorStatus(store: StateStore): Promise<CollectorStatus[]> {
  return (await store.statuses()).sort((a, b) => a.key.localeCompare(b.key));
}
