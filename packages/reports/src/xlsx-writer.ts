/**
 * A streaming XLSX writer: the part of exceljs's streaming WorkbookWriter the reports use
 * (worksheets of rows, cells with values and styles, column widths, merged cells), writing the
 * same XML byte for byte (but docProps/core.xml's timestamps; test/xlsx-writer.test.ts compares
 * every report type both ways). Rows are written in order: a committed row is written, and no
 * row above it can be changed after; a sheet's XML is deflated as it is written (zip-writer.ts).
 */
import { ExcelDate } from './excel-date.js';
import { columnLetters, type DataRowStyles, valueXml, writeDataRows } from './row-xml.js';
import type { DataRowsXml, DataStyleIds } from './row-xml-sql.js';
import type { Value } from './queries.js';
import { THEME1_XML } from './xlsx-theme.js';
import { type Alignment, type Borders, type Fill, type Font, type Style, StyleRegistry, type StyleKind } from './xlsx-styles.js';
import { xmlEncode } from './xml-text.js';
import { writeZip, ZipMember } from './zip-writer.js';

export type { Alignment, Borders, BorderSide, BorderStyle, Fill, Font, Style } from './xlsx-styles.js';

export type CellValue = string | number | boolean | Date | ExcelDate | { formula: string } | null;

const DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>';
const SHEET_HEAD =
  `${DECLARATION}<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"` +
  ' xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="x14ac" xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac">' +
  '<sheetFormatPr defaultRowHeight="15" outlineLevelRow="0" outlineLevelCol="0" x14ac:dyDescent="55"/>';
const SHEET_TAIL =
  '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>' +
  '<pageSetup orientation="portrait" horizontalDpi="4294967295" verticalDpi="4294967295" scale="100" fitToWidth="1" fitToHeight="1"/></worksheet>';
/** Excel's default column width: a column of this width is written as a default one. */
const DEFAULT_WIDTH = 9;
/** Characters of sheet XML gathered before a write to the deflate stream. */
const FLUSH_AT = 1 << 16;

/** `B7` → row 7, column 2. */
function decodeAddress(address: string): { row: number; col: number } {
  const m = /^([A-Z]{1,3})(\d+)$/.exec(address);
  if (!m) throw new Error(`not a cell address: ${address}`);
  let col = 0;
  for (const ch of m[1] as string) col = col * 26 + ch.charCodeAt(0) - 64;
  return { row: Number(m[2]), col };
}

export class Cell {
  style: Style = {};
  private content: CellValue = null;
  /** The merged range's first cell, for the other cells of a merged range. */
  private master: Cell | undefined;

  constructor(
    readonly row: number,
    readonly col: number,
  ) {}

  get address(): string {
    return `${columnLetters(this.col)}${this.row}`;
  }
  get value(): CellValue {
    return this.master ? this.master.value : this.content;
  }
  set value(v: CellValue | undefined) {
    if (this.master) this.master.value = v;
    else this.content = v ?? null;
  }
  get font(): Font | undefined {
    return this.style.font;
  }
  set font(v: Font | undefined) {
    this.style.font = v;
  }
  get fill(): Fill | undefined {
    return this.style.fill;
  }
  set fill(v: Fill | undefined) {
    this.style.fill = v;
  }
  get border(): Borders | undefined {
    return this.style.border;
  }
  set border(v: Borders | undefined) {
    this.style.border = v;
  }
  get alignment(): Alignment | undefined {
    return this.style.alignment;
  }
  set alignment(v: Alignment | undefined) {
    this.style.alignment = v;
  }
  get numFmt(): string | undefined {
    return this.style.numFmt;
  }
  set numFmt(v: string | undefined) {
    this.style.numFmt = v;
  }

  /** Make this cell part of `master`'s merged range: it shows and shares the master's value and style. */
  merge(master: Cell): void {
    this.master = master;
    this.content = null;
    this.style = master.style;
  }

  /** Whether the cell counts as holding something (a merged range's cells do). */
  get hasValue(): boolean {
    return this.master !== undefined || this.content !== null;
  }

  /** The cell's XML (empty for an unstyled empty cell). */
  xml(styles: StyleRegistry): string {
    const v = this.master ? undefined : this.content;
    const id = styles.styleId(this.style, this.master ? 'other' : styleKind(v ?? null));
    const open = id ? `<c r="${this.address}" s="${id}"` : `<c r="${this.address}"`;
    if (v === undefined) return `${open}/>`;
    return valueXml(open, id, v);
  }
}

function styleKind(v: CellValue): StyleKind {
  if (v instanceof Date || v instanceof ExcelDate) return 'date';
  // A formula without a result and an empty cell get a number's default format, as in exceljs.
  return typeof v === 'string' || typeof v === 'boolean' ? 'other' : 'number';
}

export class Row {
  height: number | undefined;
  /** The row's own style (none: numbered once, as exceljs numbered each row's). */
  readonly style: Style = {};
  private readonly cells: (Cell | undefined)[] = [];

  constructor(
    private readonly sheet: Worksheet,
    readonly number: number,
  ) {}

  getCell(col: number): Cell {
    let cell = this.cells[col - 1];
    if (!cell) {
      cell = new Cell(this.number, col);
      this.cells[col - 1] = cell;
    }
    return cell;
  }

  /** Each cell holding something, with its column. */
  eachCell(fn: (cell: Cell, col: number) => void): void {
    this.cells.forEach((cell, i) => {
      if (cell?.hasValue) fn(cell, i + 1);
    });
  }

  /** Write this row and every row above it that is not written yet. */
  commit(): void {
    this.sheet.commitRow(this);
  }

  /** Nothing unless the row holds a value or has a height. */
  xml(styles: StyleRegistry): string {
    if (!this.height && !this.cells.some((c) => c?.hasValue)) return '';
    const rowStyle = styles.styleId(this.style);
    let min = 0;
    let max = 0;
    let cells = '';
    this.cells.forEach((cell, i) => {
      if (!cell) return;
      if (!min) min = i + 1;
      max = i + 1;
      cells += cell.xml(styles);
    });
    let xml = `<row r="${this.number}"`;
    if (this.height) xml += ` ht="${this.height}" customHeight="1"`;
    if (min > 0) xml += ` spans="${min}:${max}"`;
    if (rowStyle) xml += ` s="${rowStyle}" customFormat="1"`;
    xml += ' x14ac:dyDescent="0.25"';
    return cells ? `${xml}>${cells}</row>` : `${xml}/>`;
  }
}

interface Range {
  top: number;
  left: number;
  bottom: number;
  right: number;
}

export class Worksheet {
  private pending: (Row | undefined)[] = [];
  /** The number of the first row not written yet. */
  private rowZero = 1;
  private readonly widths: (number | undefined)[] = [];
  private readonly merges: Range[] = [];
  private startedData = false;
  private committed = false;
  private out: string;

  constructor(
    readonly name: string,
    private readonly styles: StyleRegistry,
    private readonly member: ZipMember,
  ) {
    this.out = SHEET_HEAD;
  }

  /** A column, to set its width (before the sheet's first row is written). */
  getColumn(col: number): { width: number | undefined } {
    const widths = this.widths;
    return {
      get width() {
        return widths[col - 1];
      },
      set width(w: number | undefined) {
        widths[col - 1] = w;
      },
    };
  }

  getRow(n: number): Row {
    const i = n - this.rowZero;
    if (i < 0) throw new Error(`sheet ${this.name}: row ${n} is already written`);
    let row = this.pending[i];
    if (!row) {
      row = new Row(this, n);
      this.pending[i] = row;
    }
    return row;
  }

  /** A cell by address (`B7`) or by row and column. */
  getCell(address: string | number, col?: number): Cell {
    const at = typeof address === 'string' ? decodeAddress(address) : { row: address, col: col ?? 1 };
    return this.getRow(at.row).getCell(at.col);
  }

  /** A row after the last one, with `values` from column 1. */
  addRow(values: readonly (CellValue | undefined)[]): Row {
    const row = this.getRow(this.rowZero + this.pending.length);
    values.forEach((v, i) => {
      if (v !== undefined) row.getCell(i + 1).value = v;
    });
    return row;
  }

  /** Merge a range (`A1:B1`, or top, left, bottom, right): its first cell's value and style show across it. */
  mergeCells(range: string | number, left?: number, bottom?: number, right?: number): void {
    let r: Range;
    if (typeof range === 'string') {
      const [a, b = a] = range.split(':') as [string, string?];
      const from = decodeAddress(a);
      const to = decodeAddress(b);
      r = { top: Math.min(from.row, to.row), left: Math.min(from.col, to.col), bottom: Math.max(from.row, to.row), right: Math.max(from.col, to.col) };
    } else {
      r = { top: range, left: left ?? 1, bottom: bottom ?? range, right: right ?? left ?? 1 };
    }
    if (this.merges.some((m) => m.left <= r.right && r.left <= m.right && m.top <= r.bottom && r.top <= m.bottom)) {
      throw new Error('Cannot merge already merged cells');
    }
    const master = this.getCell(r.top, r.left);
    for (let i = r.top; i <= r.bottom; i++) {
      for (let j = r.left; j <= r.right; j++) if (i > r.top || j > r.left) this.getCell(i, j).merge(master);
    }
    this.merges.push(r);
  }

  /** Write `row` and the rows above it. */
  commitRow(row: Row): void {
    while (this.pending.length) {
      const r = this.pending.shift();
      this.rowZero++;
      if (!r) continue;
      this.writeRow(r);
      this.rowZero = r.number + 1;
      if (r.number === row.number) return;
    }
  }

  /**
   * Data rows after the last row, each cell styled `styles.date` (Dates) or `styles.text`, as
   * if each were added and committed (every row before them is written first).
   */
  addDataRows(rows: readonly (readonly Value[])[], styles: DataRowStyles): void {
    this.writePending();
    this.startData();
    const styleId = (style: Style, kind?: StyleKind) => this.styles.styleId(style, kind);
    this.rowZero = writeDataRows(rows, this.rowZero, styles, styleId, (xml) => this.write(xml));
  }

  /**
   * The numbers the data rows' styles get when data rows are added next (`addDataRows` numbers the
   * text style at the first cell, then the date style at the first timestamp), for rows whose XML
   * SQL writes (row-xml-sql.ts). Every row before them must be written first (it may number a style).
   */
  dataStyleIds(styles: Pick<DataRowStyles, 'text' | 'date'>): DataStyleIds {
    if (this.pending.some((row) => row !== undefined)) throw new Error(`sheet ${this.name}: rows not written yet may number styles before the data rows`);
    const [text, date] = this.styles.idsIfNext([
      [styles.text, 'other'],
      [styles.date, 'date'],
    ]) as [number, number];
    return { text, date };
  }

  /**
   * Data rows written as XML by SQL (row-xml-sql.ts) after the last row: what `addDataRows` writes
   * for the same rows, their styles numbered in the same order (the first cell is a text's) to the
   * numbers the XML holds (`dataStyleIds`, asked right before).
   */
  addDataRowsXml(rows: DataRowsXml, styles: Pick<DataRowStyles, 'text' | 'date'>): void {
    this.writePending();
    this.startData();
    if (this.rowZero !== rows.first) throw new Error(`sheet ${this.name}: data rows XML starts at row ${rows.first}, not ${this.rowZero}`);
    if (rows.filled) {
      const text = this.styles.styleId(styles.text, 'other');
      const date = rows.dates ? this.styles.styleId(styles.date, 'date') : rows.styles.date;
      if (text !== rows.styles.text || date !== rows.styles.date) {
        throw new Error(`sheet ${this.name}: data rows XML styled ${rows.styles.text} and ${rows.styles.date}, but the styles are numbered ${text} and ${date}`);
      }
      for (const xml of rows.batches) this.writeBytes(xml);
    }
    this.rowZero = rows.first + rows.rows;
  }

  /** Write every row and close the sheet. */
  commit(): void {
    if (this.committed) return;
    this.writePending();
    if (!this.startedData) this.write('<sheetData>');
    this.write('</sheetData>');
    if (this.merges.length) {
      const refs = this.merges.map((m) => `<mergeCell ref="${columnLetters(m.left)}${m.top}:${columnLetters(m.right)}${m.bottom}"/>`);
      this.write(`<mergeCells count="${this.merges.length}">${refs.join('')}</mergeCells>`);
    }
    this.write(SHEET_TAIL);
    this.member.write(this.out);
    this.out = '';
    this.member.end();
    this.committed = true;
  }

  private writePending(): void {
    for (const row of this.pending) if (row) this.writeRow(row);
    this.rowZero += this.pending.length;
    this.pending = [];
  }

  private writeRow(row: Row): void {
    this.startData();
    this.write(row.xml(this.styles));
  }

  /** `<cols>` (the widths as they are now) and `<sheetData>`, before the first row. */
  private startData(): void {
    if (this.startedData) return;
    this.startedData = true;
    let cols = '';
    let last: { min: number; max: number; width: number } | undefined;
    const runs: { min: number; max: number; width: number }[] = [];
    this.widths.forEach((w, i) => {
      if (w === undefined || w === DEFAULT_WIDTH) last = undefined;
      else if (last && last.width === w && last.max === i) last.max = i + 1;
      else {
        last = { min: i + 1, max: i + 1, width: w };
        runs.push(last);
      }
    });
    for (const c of runs) cols += `<col min="${c.min}" max="${c.max}" width="${c.width}" customWidth="1"/>`;
    this.write(cols ? `<cols>${cols}</cols><sheetData>` : '<sheetData>');
  }

  /** UTF-8 XML, after the XML written before it. */
  private writeBytes(xml: Uint8Array): void {
    if (this.out) this.member.write(this.out);
    this.out = '';
    this.member.writeBytes(xml);
  }

  private write(xml: string): void {
    this.out += xml;
    if (this.out.length >= FLUSH_AT) {
      this.member.write(this.out);
      this.out = '';
    }
  }
}

/** A workbook written to `filename` on `commit`; its sheets are deflated as they are written. */
export class WorkbookWriter {
  private readonly sheets: Worksheet[] = [];
  private readonly members: ZipMember[] = [];
  private readonly styles = new StyleRegistry();
  private readonly created: Date;

  constructor(
    private readonly filename: string,
    opts: { created?: Date } = {},
  ) {
    this.created = opts.created ?? new Date();
  }

  addWorksheet(name: string): Worksheet {
    const member = new ZipMember(`xl/worksheets/sheet${this.sheets.length + 1}.xml`);
    this.members.push(member);
    const sheet = new Worksheet(name, this.styles, member);
    this.sheets.push(sheet);
    return sheet;
  }

  /** Close every sheet and write the file. */
  async commit(): Promise<void> {
    for (const sheet of this.sheets) sheet.commit();
    const names = this.sheets.map((s) => xmlEncode(s.name));
    const parts: [string, string][] = [
      ['[Content_Types].xml', contentTypesXml(names.length)],
      ['_rels/.rels', ROOT_RELS],
      ['docProps/app.xml', appXml(names)],
      ['docProps/core.xml', coreXml(this.created)],
      ['xl/workbook.xml', workbookXml(names)],
      ['xl/_rels/workbook.xml.rels', workbookRelsXml(names.length)],
      ['xl/styles.xml', this.styles.xml()],
      ['xl/theme/theme1.xml', THEME1_XML],
    ];
    const members = parts.map(([name, xml]) => {
      const m = new ZipMember(name);
      m.write(xml);
      m.end();
      return m;
    });
    await writeZip(this.filename, [...members, ...this.members], this.created);
  }
}

const REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
const RELS_HEAD = `${DECLARATION}\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`;
const ROOT_RELS =
  `${RELS_HEAD}<Relationship Id="rId1" Type="${REL}/officeDocument" Target="xl/workbook.xml"/>` +
  '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>' +
  `<Relationship Id="rId3" Type="${REL}/extended-properties" Target="docProps/app.xml"/></Relationships>`;

function contentTypesXml(sheets: number): string {
  const sheetTypes = Array.from(
    { length: sheets },
    (_, i) => `<Override PartName="/xl/worksheets/sheet${i + 1}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`,
  );
  return (
    `${DECLARATION}\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>' +
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>' +
    sheetTypes.join('') +
    '<Override PartName="/xl/theme/theme1.xml" ContentType="application/vnd.openxmlformats-officedocument.theme+xml"/>' +
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>' +
    '<Default Extension="vml" ContentType="application/vnd.openxmlformats-officedocument.vmlDrawing"/>' +
    '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>' +
    '<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/></Types>'
  );
}

/** docProps/app.xml of sheets titled `names` (XML-escaped). */
function appXml(names: readonly string[]): string {
  return (
    `${DECLARATION}\n<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">` +
    '<Application>Microsoft Excel</Application><DocSecurity>0</DocSecurity><ScaleCrop>false</ScaleCrop>' +
    `<HeadingPairs><vt:vector size="2" baseType="variant"><vt:variant><vt:lpstr>Worksheets</vt:lpstr></vt:variant><vt:variant><vt:i4>${names.length}</vt:i4></vt:variant></vt:vector></HeadingPairs>` +
    `<TitlesOfParts><vt:vector size="${names.length}" baseType="lpstr">${names.map((n) => `<vt:lpstr>${n}</vt:lpstr>`).join('')}</vt:vector></TitlesOfParts>` +
    '<Company></Company><LinksUpToDate>false</LinksUpToDate><SharedDoc>false</SharedDoc><HyperlinksChanged>false</HyperlinksChanged><AppVersion>16.0300</AppVersion></Properties>'
  );
}

function coreXml(at: Date): string {
  const when = at.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return (
    `${DECLARATION}\n<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"` +
    ' xmlns:dcterms="http://purl.org/dc/terms/" xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
    '<dc:creator>ExcelJS</dc:creator><cp:lastModifiedBy>ExcelJS</cp:lastModifiedBy>' +
    `<dcterms:created xsi:type="dcterms:W3CDTF">${when}</dcterms:created><dcterms:modified xsi:type="dcterms:W3CDTF">${when}</dcterms:modified></cp:coreProperties>`
  );
}

function workbookXml(names: readonly string[]): string {
  const sheets = names.map((n, i) => `<sheet sheetId="${i + 1}" name="${n}" state="visible" r:id="rId${i + 3}"/>`).join('');
  return (
    `${DECLARATION}\n<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="${REL}"` +
    ' xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="x15" xmlns:x15="http://schemas.microsoft.com/office/spreadsheetml/2010/11/main">' +
    '<fileVersion appName="xl" lastEdited="5" lowestEdited="5" rupBuild="9303"/><workbookPr defaultThemeVersion="164011" filterPrivacy="1"/>' +
    `<sheets>${sheets}</sheets><calcPr calcId="171027"/></workbook>`
  );
}

function workbookRelsXml(sheets: number): string {
  const rels = Array.from({ length: sheets }, (_, i) => `<Relationship Id="rId${i + 3}" Type="${REL}/worksheet" Target="worksheets/sheet${i + 1}.xml"/>`);
  return (
    `${RELS_HEAD}<Relationship Id="rId1" Type="${REL}/styles" Target="styles.xml"/>` +
    `<Relationship Id="rId2" Type="${REL}/theme" Target="theme/theme1.xml"/>${rels.join('')}</Relationships>`
  );
}
