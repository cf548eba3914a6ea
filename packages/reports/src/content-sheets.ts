import type { WorkbookWriter } from './xlsx-writer.js';
import { DEDUP_HEADERS, dedupColumns, FACTS_HEADERS, hasDedupColumns } from './dedup-columns.js';
import type { DataRow, ReportQueries } from './queries.js';
import type { DataStyleIds } from './row-xml-sql.js';
import { DATA_WIDTHS, DATA_XML_FIRST_ROW, setWidths, writeDataTable, writeDataTableXml, type Worksheet } from './sheet.js';
import type { ReportTables } from './queries.js';

export const MANAGED_NODES_HEADERS = ['Host name', 'Automated by\norganizations', 'Job runs', 'Number of task\nruns', 'First\nautomation', 'Last\nautomation'];

/**
 * Managed nodes (`rows` of MANAGED_NODES_HEADERS) with, under ccsp-experimental, the DIRECT rows'
 * canonical facts and facts and the host names before dedup appended.
 */
export async function withDedupColumns(t: ReportTables, headers: readonly string[], rows: DataRow[]): Promise<{ headers: string[]; rows: DataRow[] }> {
  const dedup = await dedupColumns(t, 'direct');
  if (!dedup) return { headers: [...headers], rows };
  return { headers: [...headers, ...FACTS_HEADERS, ...DEDUP_HEADERS], rows: rows.map((r) => [...r, ...dedup.factsAndNames(r[0])]) };
}

/**
 * The Managed nodes table without per-organization columns (`withDedupColumns`'): its query asked
 * up front (`query`, to prefetch it), its rows written when the sheet comes (`write`). Without
 * dedup columns its rows' XML is DuckDB's (row-xml-sql.ts), unless a value's must be JS's; that
 * statement runs once the sheet's headers are written, when the numbers of its styles are known.
 */
export class ManagedNodesTable {
  private readonly styles: Promise<DataStyleIds>;
  private settle: { resolve(ids: DataStyleIds): void; reject(err: Error): void } | undefined;

  constructor(
    private readonly q: ReportQueries,
    private readonly t: ReportTables,
  ) {
    this.styles = new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // Rejected only by `abandon`, whose statement nobody takes.
    this.styles.catch(() => {});
  }

  query(): Promise<unknown> {
    return hasDedupColumns(this.t) ? this.q.managedNodes() : this.q.managedNodesXml(DATA_XML_FIRST_ROW, this.styles);
  }

  async write(ws: Worksheet): Promise<void> {
    if (!hasDedupColumns(this.t)) {
      const xml = (ids: DataStyleIds) => {
        this.settle?.resolve(ids);
        return this.q.managedNodesXml(DATA_XML_FIRST_ROW, this.styles);
      };
      return writeDataTableXml(ws, MANAGED_NODES_HEADERS, xml, () => this.q.managedNodes());
    }
    const { headers, rows } = await withDedupColumns(this.t, MANAGED_NODES_HEADERS, await this.q.managedNodes());
    writeDataTable(ws, headers, rows);
  }

  /** A workbook that stops before the sheet lets a statement waiting for its styles go (unrun). */
  abandon(): void {
    this.settle?.reject(new Error('the Managed nodes sheet was not written'));
  }
}

const CONTENT = [
  { flag: 'usage_by_collections', title: 'Usage by collections', key: 'collection_name', label: 'Collection name' },
  { flag: 'usage_by_roles', title: 'Usage by roles', key: 'role_name', label: 'Role name' },
  { flag: 'usage_by_modules', title: 'Usage by modules', key: 'module_name', label: 'Module name' },
] as const;

/**
 * Do the content sheets count INDIRECT rows' collections? When `indirectly_managed_nodes` is
 * selected and the period has INDIRECT rows (the newest reference's "Usage by collections").
 */
export function indirectCollections(t: Pick<ReportTables, 'indirect'>, sheets: readonly string[]): boolean {
  return Boolean(t.indirect) && sheets.includes('indirectly_managed_nodes');
}

/** The queries of the content sheets `writeContentSheets` will write (to prefetch them). */
export function contentQueries(q: ReportQueries, t: ReportTables, sheets: readonly string[]): Promise<unknown>[] {
  const indirect = indirectCollections(t, sheets);
  return t.content || indirect ? CONTENT.filter((c) => sheets.includes(c.flag)).map((c) => q.contentUsage(c.key, indirect)) : [];
}

/**
 * "Usage by collections / roles / modules", each when selected: a header alone when the period
 * has no events (the newest reference's content dataframe is then empty, never None).
 */
export async function writeContentSheets(wb: WorkbookWriter, q: ReportQueries, t: ReportTables, sheets: readonly string[]): Promise<void> {
  const indirect = indirectCollections(t, sheets);
  for (const c of CONTENT) {
    if (!sheets.includes(c.flag)) continue;
    const ws = wb.addWorksheet(c.title);
    setWidths(ws, DATA_WIDTHS);
    writeDataTable(
      ws,
      [c.label, 'Unique managed nodes\nautomated', 'Non-unique managed\nnodes automated', 'Number of task\nruns', 'Duration of task\nruns [seconds]'],
      await q.contentUsage(c.key, indirect),
    );
    ws.commit();
  }
}
