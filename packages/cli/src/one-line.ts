import { createLogger } from '@tally/core';

/** Collapse a message to one line: scripts and people read one line of stderr. */
export function oneLine(text: string): string {
  return text
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean)
    .join('; ');
}

/** Mask every registered secret (passwords from URLs, keys from the environment) in `text`. */
export function redactSecrets(text: string): string {
  let out = '';
  const sink = {
    write: (s: string) => {
      out += s;
      return true;
    },
  } as unknown as NodeJS.WritableStream;
  createLogger({ stream: sink, format: 'pretty', level: 'error' }).error(text);
  return out.replace(/^ERROR /, '').trimEnd();
}

/** A commander error (`error: unknown option '--x'` + a suggestion line) as `tally: …` on one line. */
export function oneLineError(text: string): string {
  return `tally: ${oneLine(redactSecrets(text)).replace(/^error: /, '')}`;
}
