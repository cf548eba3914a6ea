import { isoDate, type Logger, monthWindow, silentLogger, withTempdir } from '@tally/core';
import type { CollectionGap } from '@tally/dataframes';
import type { ExtractFailure } from '@tally/extractors';
import type { Store } from '@tally/storage';
import { join } from 'node:path';
import { writeCcsp } from './ccsp.js';
import { writeCcspV2 } from './ccspv2.js';
import type { ReportParams } from './params.js';
import { loadWorkbookWriter } from './sheet.js';
import { hasNoData, longGaps } from './report-inputs.js';
import { loadReportTables } from './tables.js';

export type CcspType = 'CCSP' | 'CCSPv2';

/** A calendar month (`YYYY-MM`) or an inclusive day range. */
export type ReportPeriod = { month: string } | { since: Date; until: Date };

export interface ReportTarget {
  /** Storage name of the workbook, e.g. `reports/2024/03/CCSP-2024-03.xlsx`. */
  name: string;
  /** What the sheets show as report period. */
  period: string;
  /** What an empty-period message names. */
  label: string;
  firstDay: Date;
  lastDay: Date;
}

/** Where a report of this type and period goes, and which day folders it reads. */
export function reportTarget(type: string, period: ReportPeriod): ReportTarget {
  if ('month' in period) {
    const w = monthWindow(period.month);
    const [y, m] = period.month.split('-');
    return {
      name: `reports/${y}/${m}/${type}-${period.month}.xlsx`,
      period: period.month,
      label: period.month,
      firstDay: w.since,
      lastDay: new Date(w.until.getTime() - 1),
    };
  }
  const since = isoDate(period.since);
  const until = isoDate(period.until);
  return {
    name: `reports/${until.slice(0, 4)}/${until.slice(5, 7)}/${type}-${since}--${until}.xlsx`,
    period: `${since}, ${until}`,
    label: `${since}, ${until}`,
    firstDay: period.since,
    lastDay: period.until,
  };
}

export interface BuildResult {
  status: 'written' | 'skipped' | 'empty';
  /** Storage name of the workbook. */
  name: string;
  message: string;
  /** Tarballs that could not be read (named, with the CSV member and line when that was why; contributing nothing). */
  failures: ExtractFailure[];
  /** Collection gaps longer than an hour in the period (data_collection_status.csv), for warnings (CCSP, CCSPv2). */
  gaps?: CollectionGap[];
}

export interface BuildCcspOptions {
  type: CcspType;
  storage: Store;
  period: ReportPeriod;
  params: Omit<ReportParams, 'reportPeriod'>;
  force?: boolean;
  logger?: Logger;
}

/**
 * Build a CCSP or CCSPv2 workbook from the tarballs of the period and put it into storage
 * (written to a temp file first; the directory backend renames it into place atomically).
 */
export async function buildCcspReport(opts: BuildCcspOptions): Promise<BuildResult> {
  const log = opts.logger ?? silentLogger;
  const target = reportTarget(opts.type, opts.period);
  if (!opts.force && (await opts.storage.exists(target.name))) {
    const message = `Skipping report generation, report: ${target.name} already exists`;
    log.info(message);
    return { status: 'skipped', name: target.name, message, failures: [], gaps: [] };
  }
  if (opts.type === 'CCSP' && opts.params.sheets.includes('infrastructure_summary')) {
    log.warn('infrastructure_summary is a CCSPv2 sheet: the CCSP report skips it');
  }
  const tables = await loadReportTables({
    sheets: opts.params.sheets,
    // exceljs loads while DuckDB aggregates (openWorkbook reports a failure to load it).
    onExtracted: () => void loadWorkbookWriter().catch(() => {}),
    storage: opts.storage,
    firstDay: target.firstDay,
    lastDay: target.lastDay,
    logger: log,
    // CCSP (v1) has no organization filter, as in the reference.
    organizationFilter: opts.type === 'CCSPv2' ? opts.params.organizationFilter : undefined,
  });
  try {
    const gaps = longGaps(tables.extras?.collectionStatus ?? [], opts.period);
    if (hasNoData(tables, opts.params.sheets)) {
      const message = `No billing data for month: ${target.label}`;
      log.info(message);
      return { status: 'empty', name: target.name, message, failures: tables.failures, gaps };
    }
    const params: ReportParams = { ...opts.params, reportPeriod: target.period, period: opts.period };
    const started = performance.now();
    await withTempdir('tally-report', async (dir) => {
      const file = join(dir, 'report.xlsx');
      if (opts.type === 'CCSP') await writeCcsp(file, tables, params);
      else await writeCcspV2(file, tables, params);
      await opts.storage.put(target.name, { filename: file });
    });
    log.debug('report: workbook written', { ms: Math.round(performance.now() - started) });
    const message = `Report generated into: ${target.name}`;
    log.info(message);
    return { status: 'written', name: target.name, message, failures: tables.failures, gaps };
  } finally {
    await tables.db.close();
    await tables.removed;
  }
}
