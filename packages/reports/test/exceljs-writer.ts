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
import { ExcelDate } from '../src/excel-date.js';
import { PADDED } from '../src/padded-text.js';
import type { DataRowsXml, DataStyleIds } from '../src/row-xml-sql.js';
import { XML_ENTITIES } from '../src/xml-text.js';

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
  rawValue?: unknown;
}
type Render = (this: unknown, xmlStream: XmlStream, model: CellModel) => void;

/** exceljs's `Enums.ValueType.String`. */
const STRING = 3;
let patched = false;

function patchRender(): void {
  if (patched) return;
  patched = true;
  const proto = (require('exceljs/lib/xlsx/xform/sheet/cell-xform.js') as { prototype: { render: Render } }).prototype;
  const render = proto.render;
  proto.render = function (xmlStream, model) {
    // exceljs has no datetime with microseconds: the serial's text openpyxl writes, as Tally's writer writes it.
    // (An object cell's model keeps the object as `rawValue`.)
    if (model.rawValue instanceof ExcelDate) {
      xmlStream.openNode('c');
      xmlStream.addAttribute('r', model.address);
      if (model.styleId) xmlStream.addAttribute('s', model.styleId);
      xmlStream.leafNode('v', null, model.rawValue.serial);
      xmlStream.closeNode();
    } else if (model.type === STRING && model.ssId === undefined && typeof model.value === 'string' && PADDED.test(model.value)) {
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
    // An ExcelDate is written by the patched renderer (patchRender).
    const row = ws.addRow(values.map((v) => (v instanceof ExcelDate ? v : styles.cellValue(v))));
    (row as unknown as { style: object }).style = rowStyle;
    for (let i = 0; i < values.length; i++) {
      const date = values[i] instanceof Date || values[i] instanceof ExcelDate;
      row.getCell(i + 1).style = (date ? styles.date : styles.text) as Partial<ExcelJS.Style>;
    }
    row.commit();
  }
}

const ROW = /<row r="(\d+)" spans="1:(\d+)" x14ac:dyDescent="0\.25">(.*?)<\/row>/gy;
const CELL = /<c r="[A-Z]+\d+" s="(\d+)"(?:\/>|( t="str")?><v>([^<]*)<\/v><\/c>| t="inlineStr"><is><t xml:space="preserve">([^<]*)<\/t><\/is><\/c>)/gy;
const ENTITY = new Map(Object.entries(XML_ENTITIES).map(([ch, entity]) => [entity, ch]));
const decode = (xml: string) => xml.replace(/&\w+;/g, (e) => ENTITY.get(e) ?? e);

/** A cell of SQL-written data rows XML as the value it stands for (a date serial as its text). */
function cellValue(date: boolean, str: string | undefined, v: string | undefined, inline: string | undefined): Value {
  if (inline !== undefined) return decode(inline);
  if (v === undefined) return null;
  if (str) return decode(v);
  if (date) return new ExcelDate(v);
  return Number(v);
}

/**
 * SQL-written data rows (row-xml-sql.ts) read back into values, and written by exceljs as
 * `addDataRows` writes them: the XML must parse whole, row numbers in order.
 */
function addDataRowsXml(ws: ExcelJS.Worksheet, xml: DataRowsXml, styles: DataRowStyles): void {
  const rows: Value[][] = [];
  let columns = 0;
  for (const batch of xml.batches) {
    readWhole(ROW, Buffer.from(batch).toString('utf8'), ([, r, span, cells]) => {
      columns = Number(span);
      while (rows.length < Number(r) - xml.first) rows.push(Array(columns).fill(null));
      const values: Value[] = [];
      readWhole(CELL, cells as string, (c) => values.push(cellValue(Number(c[1]) === xml.styles.date, c[2], c[3], c[4])));
      if (values.length !== columns) throw new Error(`row ${r}: ${values.length} cells, not ${columns}`);
      rows.push(values);
    });
  }
  while (rows.length < xml.rows) rows.push(Array(columns).fill(null));
  addDataRows(ws, rows, styles);
}

/** Every match of sticky `re` in `text`, which they must cover whole. */
function readWhole(re: RegExp, text: string, fn: (m: RegExpExecArray) => void): void {
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) throw new Error(`data rows XML not read whole at ${at}: ${text.slice(at, at + 80)}`);
    fn(m);
    at = re.lastIndex;
  }
}

/** An exceljs streaming workbook with the writer's interface (its worksheets can `addDataRows`). */
export function openExceljsWorkbook(filename: string): Promise<WorkbookWriter> {
  patchRender();
  const Writer = require('exceljs/lib/stream/xlsx/workbook-writer.js') as typeof ExcelJS.stream.xlsx.WorkbookWriter;
  const wb = new Writer({ filename, useStyles: true, useSharedStrings: false });
  const addWorksheet = wb.addWorksheet.bind(wb);
  wb.addWorksheet = (name?: string) => {
    const ws = addWorksheet(name);
    Object.assign(ws, {
      addDataRows: (rows: readonly (readonly Value[])[], styles: DataRowStyles) => addDataRows(ws, rows, styles),
      // Any two numbers: they only tell the XML's date cells from the others.
      dataStyleIds: (): DataStyleIds => ({ text: 1, date: 2 }),
      addDataRowsXml: (xml: DataRowsXml, styles: Omit<DataRowStyles, 'cellValue'>) => addDataRowsXml(ws, xml, { ...styles, cellValue: (v) => v }),
    });
    return ws;
  };
  return Promise.resolve(wb as unknown as WorkbookWriter);
}
