/**
 * The reports' workbooks as exceljs's streaming WorkbookWriter wrote them before Tally had its
 * own writer (xlsx-writer.ts): the reference the writer's bytes are compared with. Data rows go
 * through exceljs's Rows and Cells, texts with surrounding whitespace as inline strings (the
 * renderer patch Tally used with exceljs).
 */
import { createRequire } from 'node:module';
import type ExcelJS from 'exceljs';
import type { Value } from '../src/queries.js';
import type { WorkbookWriter } from '../src/sheet.js';
import type { DataRowStyles } from '../src/row-xml.js';
import { PADDED } from '../src/padded-text.js';

const require = createRequire(import.meta.url);

interface XmlStream {
  openNode(name: string, attributes?: Record<string, string>): void;
  addAttribute(name: string, value: string | number): void;
  leafNode(name: string, attributes: Record<string, string> | null, text: string): void;
  closeNode(): void;
}
interface CellModel {
  type: number;
  address: string;
  styleId?: number;
  ssId?: number;
  value?: unknown;
}
type Render = (this: unknown, xmlStream: XmlStream, model: CellModel) => void;

/** exceljs's `Enums.ValueType.String`. */
const STRING = 3;
let patched = false;

function keepPaddedText(): void {
  if (patched) return;
  patched = true;
  const proto = (require('exceljs/lib/xlsx/xform/sheet/cell-xform.js') as { prototype: { render: Render } }).prototype;
  const render = proto.render;
  proto.render = function (xmlStream, model) {
    if (model.type === STRING && model.ssId === undefined && typeof model.value === 'string' && PADDED.test(model.value)) {
      xmlStream.openNode('c');
      xmlStream.addAttribute('r', model.address);
      if (model.styleId) xmlStream.addAttribute('s', model.styleId);
      xmlStream.addAttribute('t', 'inlineStr');
      xmlStream.openNode('is');
      xmlStream.leafNode('t', { 'xml:space': 'preserve' }, model.value);
      xmlStream.closeNode();
      xmlStream.closeNode();
    } else render.call(this, xmlStream, model);
  };
}

/** Data rows as writeDataTable wrote them through exceljs: a Row and its Cells per row. */
function addDataRows(ws: ExcelJS.Worksheet, rows: readonly (readonly Value[])[], styles: DataRowStyles): void {
  const rowStyle = {};
  for (const values of rows) {
    const row = ws.addRow(values.map(styles.cellValue));
    (row as unknown as { style: object }).style = rowStyle;
    for (let i = 0; i < values.length; i++) row.getCell(i + 1).style = (values[i] instanceof Date ? styles.date : styles.text) as Partial<ExcelJS.Style>;
    row.commit();
  }
}

/** An exceljs streaming workbook with the writer's interface (its worksheets can `addDataRows`). */
export function openExceljsWorkbook(filename: string): Promise<WorkbookWriter> {
  keepPaddedText();
  const Writer = require('exceljs/lib/stream/xlsx/workbook-writer.js') as typeof ExcelJS.stream.xlsx.WorkbookWriter;
  const wb = new Writer({ filename, useStyles: true, useSharedStrings: false });
  const addWorksheet = wb.addWorksheet.bind(wb);
  wb.addWorksheet = (name?: string) => {
    const ws = addWorksheet(name);
    Object.assign(ws, { addDataRows: (rows: readonly (readonly Value[])[], styles: DataRowStyles) => addDataRows(ws, rows, styles) });
    return ws;
  };
  return Promise.resolve(wb as unknown as WorkbookWriter);
}
