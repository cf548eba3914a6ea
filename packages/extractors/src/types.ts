import type { Logger } from '@tally/core';
import type { Store } from '@tally/storage';

/** Caps and filters applied while a tarball is streamed. */
export interface ExtractLimits {
  /** Keep only members whose base name is listed (e.g. `job_host_summary.csv`); default: every `.csv`/`.json`. */
  only?: string | readonly string[];
  /** Most regular members a tarball may hold (skipped entries count too). Default 100. */
  maxMembers?: number;
  /** Most uncompressed bytes (sum of member data) per tarball, enforced while inflating. Default 1 GiB. */
  maxTotalBytes?: number;
}

/** What reading a tarball once tells about it, so that no one reads it again to describe it. */
export interface TarballDigest {
  /** SHA-256 (hex) of the tarball's bytes, hashed as they were extracted. */
  sha256: string;
  /** Its size in bytes. */
  size: number;
  /** Data records (header excluded) of each CSV member extracted. */
  records: ReadonlyMap<string, number>;
}

/** A tarball fully and safely extracted into its own private directory. */
export interface ExtractedTarball extends AsyncDisposable, Partial<TarballDigest> {
  /** The storage name (or local path) the tarball came from. */
  readonly name: string;
  /** The private directory holding the extracted members. */
  readonly dir: string;
  /** Extracted member base name (`job_host_summary.csv`) → local path. */
  readonly files: ReadonlyMap<string, string>;
  /** Local path of a member, when the tarball had it. */
  file(member: string): string | undefined;
  /** Parsed `config.json`, when extracted and valid JSON; undefined otherwise. */
  config(): Promise<Record<string, unknown> | undefined>;
  /** Remove the private directory. */
  release(): Promise<void>;
}

/** A tarball that contributed nothing: corrupt, truncated, unsafe or over a cap. */
export interface ExtractFailure {
  /** Storage name of the tarball. */
  file: string;
  /** What was wrong (for a CSV member: `member: line N: reason`). */
  error: string;
  /** The CSV member that did not read as its schema, when that was the reason. */
  member?: string;
  /** The 1-based line of `member` (the header is line 1), when known. */
  line?: number;
}

export interface ExtractRangeOptions extends ExtractLimits {
  storage: Store;
  /** First day folder read is the UTC day of `since`. */
  since: Date;
  /** Day folders strictly before `until` are read: `[since, until)`. */
  until: Date;
  logger?: Logger;
  /** Parent of the per-tarball temp directories (default: OS temp dir). */
  tempParent?: string;
}

export interface ExtractRangeResult {
  /** Storage names of tarballs handed to the callback, in order. */
  loaded: string[];
  /** Tarballs skipped, each with its reason. */
  failures: ExtractFailure[];
}
