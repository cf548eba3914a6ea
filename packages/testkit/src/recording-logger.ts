import type { Logger } from '@tally/core';

/** One line a `recordingLogger` was told. */
export interface LoggedLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields?: Record<string, unknown> | undefined;
}

/** A Logger (its children too) that keeps every line, for tests asserting on what was logged. */
export function recordingLogger(): { logger: Logger; lines: LoggedLine[]; messages: (level: LoggedLine['level']) => string[] } {
  const lines: LoggedLine[] = [];
  const at = (level: LoggedLine['level']) => (msg: string, fields?: Record<string, unknown>) => void lines.push({ level, msg, fields });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return { logger, lines, messages: (level) => lines.filter((l) => l.level === level).map((l) => l.msg) };
}
