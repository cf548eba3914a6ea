export {
  CollectorError,
  ConfigError,
  ExtractError,
  LockedError,
  ReportError,
  StorageError,
  TallyError,
  errorMessage,
  exitCodeOf,
} from './errors.js';
export {
  addDays,
  addMonths,
  daysAgo,
  hoursAgo,
  iso,
  isoDate,
  lastDay,
  lastHour,
  lastMonth,
  lastWeek,
  minutesAgo,
  monthsAgo,
  now,
  parseTarballStamp,
  pythonDatetime,
  tarballStamp,
  thisDay,
  thisHour,
  thisMinute,
  thisMonth,
  thisWeek,
  weeksAgo,
} from './instants.js';
export { dailySlices, monthWindow, parseEphemeralDays, parseInstant, type Window } from './window.js';
export { type AccessAttempt, AccessError, accessError, type Queryable } from './db.js';
export { advisoryLock, type ClusterLock, type HeldLock, lock, type LockOptions, withLock } from './lock.js';
export { type TempDir, tempdir, withTempdir } from './tempdir.js';
export { mapConcurrent } from './concurrent.js';
export { DEFAULT_MAX_DATA_SIZE, MiB, parseSize } from './size.js';
export { writeFileAtomic } from './fs.js';
export { pythonFloat, pythonJson, pythonJsonSize } from './json.js';
export { backoffDelay, DEFAULT_RETRY, isNetworkError, isRetryable, isRetryableStatus, type RetryPolicy, statusOf, withRetry } from './retry.js';
export { createLogger, type Level, type Logger, type LoggerOptions, registerSecret, silentLogger } from './logger.js';
export { type ConfigKey, ENV, loadConfig, type LoadConfigOptions, requireConfig, type TallyConfig } from './config.js';
export { CsvSplitter, type CsvSplitterOptions } from './csv-splitter.js';
export { parseCsv, parseCsvRows, streamCsvRows } from './csv.js';
export { fileLock } from './file-lock.js';
export { CollectorsFile, type CollectorsDocument } from './collectors-file.js';
