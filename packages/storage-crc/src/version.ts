import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** This package's version, read from its package.json (works from src/ and dist/ alike). */
export function packageVersion(): string {
  if (cached === undefined) {
    try {
      cached = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0';
    } catch {
      cached = '0.0.0';
    }
  }
  return cached;
}

/** The User-Agent sent to the ingress and the SSO server. */
export function userAgent(): string {
  return `tally/${packageVersion()} (metrics-utility compatible)`;
}
