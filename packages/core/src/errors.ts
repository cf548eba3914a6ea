/**
 * A small typed hierarchy so the CLI can map any failure to an exit code
 * (config → 2, everything else → 1) without string matching.
 */
export class TallyError extends Error {
  readonly exitCode: number = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Invalid configuration or usage: exit code 2. */
export class ConfigError extends TallyError {
  override readonly exitCode: number = 2;
  /** The environment variable, option or file that was wrong, when known. */
  readonly field?: string;
  constructor(message: string, options?: { field?: string; cause?: unknown }) {
    super(message, options);
    if (options?.field !== undefined) this.field = options.field;
  }
}

export class CollectorError extends TallyError {
  readonly collector: string;
  constructor(collector: string, message: string, options?: { cause?: unknown }) {
    super(`${collector}: ${message}`, options);
    this.collector = collector;
  }
}

export class StorageError extends TallyError {
  /** Backend name, e.g. `s3`, `crc`, `directory`. */
  readonly backend: string;
  /** HTTP status when the backend answered one. */
  readonly status?: number;
  constructor(backend: string, message: string, options?: { cause?: unknown; status?: number }) {
    super(`storage ${backend}: ${message}`, options);
    this.backend = backend;
    if (options?.status !== undefined) this.status = options.status;
  }
}

export class ExtractError extends TallyError {
  /** The tarball (or member) that could not be read. */
  readonly file: string;
  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super(`${file}: ${message}`, options);
    this.file = file;
  }
}

export class ReportError extends TallyError {}

/** Another process holds the cluster lock. */
export class LockedError extends TallyError {}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Exit code for any thrown value: 2 for configuration/usage, 1 otherwise. */
export function exitCodeOf(err: unknown): number {
  return err instanceof TallyError ? err.exitCode : 1;
}
