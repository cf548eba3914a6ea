import { basename, resolve } from 'node:path';
import { ConfigError, createLogger, loadConfig, requireConfig } from '@tally/core';
import { SEGMENT_MESSAGE_LIMIT, SegmentClient, type SegmentTrack, trackEventSize } from '@tally/storage-segment';
import { type CliIO, cliLogger, isInteractive } from './io.js';
import { readUploadFile } from './segment-file.js';

export interface SendToSegmentOptions {
  file: string;
  app: string;
  userId: string;
  verbose?: boolean;
  config?: string;
}

/** Python's `datetime.now(timezone.utc).isoformat()`: microseconds only when there are any. */
function pythonUtcIsoformat(d: Date): string {
  const ms = d.getUTCMilliseconds();
  return `${d.toISOString().slice(0, 19)}${ms ? `.${String(ms * 1000).padStart(6, '0')}` : ''}+00:00`;
}

/**
 * `tally send-to-segment`, metrics-utility's `send_to_segment`: one `{app}_data_upload` track event
 * carrying the file's rows, sent with SEGMENT_WRITE_KEY (to METRICS_UTILITY_SEGMENT_HOST when set).
 * Everything is checked before anything is sent (exit 2); a delivery the SDK gives up on is exit 1.
 */
export async function sendToSegmentCommand(opts: SendToSegmentOptions, io: CliIO): Promise<void> {
  const cfg = loadConfig({ env: io.env, keys: ['segmentUploadWriteKey', 'segmentHost'], ...(opts.config ? { file: opts.config } : {}) });
  const { segmentUploadWriteKey: writeKey } = requireConfig(cfg, ['segmentUploadWriteKey'], 'send-to-segment');
  if (!opts.app) throw new ConfigError('send-to-segment: --app must not be empty', { field: '--app' });
  if (!opts.userId) throw new ConfigError('send-to-segment: --user-id must not be empty', { field: '--user-id' });
  const logger = opts.verbose
    ? createLogger({ stream: io.stderr, format: isInteractive(io) ? 'pretty' : 'json', level: 'debug', fields: { command: 'send-to-segment' } })
    : cliLogger(io, { command: 'send-to-segment' });

  const filename = basename(opts.file);
  logger.debug('reading file', { file: opts.file });
  const file = await readUploadFile(resolve(io.cwd, opts.file), opts.file, SEGMENT_MESSAGE_LIMIT);
  const track: SegmentTrack = {
    userId: opts.userId,
    event: `${opts.app}_data_upload`,
    properties: {
      filename,
      file_path: opts.file,
      data: file.data,
      row_count: file.row_count,
      file_type: file.file_type,
      timestamp: pythonUtcIsoformat(new Date()),
    },
    context: { app: { name: opts.app } },
  };
  const bytes = trackEventSize(track);
  if (bytes > SEGMENT_MESSAGE_LIMIT) {
    throw new ConfigError(
      `send-to-segment: ${opts.file}: its event would be ${bytes} bytes, over Segment's 32 KiB (${SEGMENT_MESSAGE_LIMIT}) event limit; nothing was sent`,
      { field: '--file' },
    );
  }

  const client = new SegmentClient({ writeKey, writeKeyVariable: 'SEGMENT_WRITE_KEY', ...(cfg.segmentHost ? { host: cfg.segmentHost } : {}), logger });
  logger.info('sending to segment', { event: track.event, userId: opts.userId, rows: file.row_count, bytes });
  try {
    await client.deliver([track], () => `${opts.file} (event ${track.event})`);
  } finally {
    await client.close();
  }
  io.stdout.write(`sent ${file.row_count} row(s) of ${filename} to Segment as ${track.event}\n`);
}
