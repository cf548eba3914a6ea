import { CsvSplitter as CoreCsvSplitter } from '@tally/core';
import { CsvSplitter } from '@tally/core';
import { describe, expect, it } from 'vitest';

describe('@tally/collectors exports', () => {
  it('re-exports the CSV splitter of @tally/core', () => {
    expect(CsvSplitter).toBe(CoreCsvSplitter);
  });
});
