import { TallyError } from '@tally/core';
import type { CliIO } from './io.js';

export async function demoCommand(_opts: Record<string, unknown>, _io: CliIO): Promise<void> {
  throw new TallyError('not wired yet');
}
