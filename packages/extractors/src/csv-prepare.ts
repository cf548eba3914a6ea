// TEMPORARY stub (replaced by branch `native`).
export type CsvFieldKind = 'skip' | 'text' | 'count' | 'timestamp';
export const csvPrepareNative: boolean = false;
export async function prepareCsvFile(_input: string, _output: string, _header: readonly string[], _kinds: readonly CsvFieldKind[]): Promise<{ rows: number } | { refused: string }> {
  return { refused: 'native CSV preparation is not built' };
}
