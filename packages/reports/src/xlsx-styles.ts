/**
 * Cell styles and the workbook's style registry (xl/styles.xml). The registry numbers styles
 * as exceljs's StylesXform did, so workbooks keep their bytes: one entry per distinct font,
 * fill, border, number format and cell format, in order of first use, and a style object is
 * numbered once, on its first cell (later cells sharing it get that number whatever their type).
 */
import { xmlEncode } from './xml-text.js';

export interface Color {
  argb: string;
}
export interface Font {
  name?: string;
  size?: number;
  bold?: boolean;
  color?: Color;
}
export interface Fill {
  type: 'pattern';
  pattern: 'solid';
  fgColor: Color;
  bgColor: Color;
}
export type BorderStyle = 'thin' | 'dotted' | 'medium';
export interface BorderSide {
  style: BorderStyle;
  color: Color;
}
export interface Borders {
  left?: BorderSide;
  right?: BorderSide;
  top?: BorderSide;
  bottom?: BorderSide;
}
export interface Alignment {
  horizontal?: 'left' | 'center' | 'right';
  vertical?: 'top' | 'middle' | 'bottom';
  wrapText?: boolean;
}
export interface Style {
  font?: Font;
  fill?: Fill;
  border?: Borders;
  alignment?: Alignment;
  numFmt?: string;
}

/** What a cell holds, for its default number format: a number (or nothing), a date, or other. */
export type StyleKind = 'number' | 'date' | 'other';

/** Excel's built-in formats a style may name (others are numbered from 164). */
const BUILTIN_FORMATS: Record<string, number> = { General: 0, '0': 1, '0.00': 2, '#,##0': 3, '#,##0.00': 4, '0%': 9, '0.00%': 10, 'mm-dd-yy': 14 };

const DEFAULT_FONT = '<font><color theme="1"/><family val="2"/><scheme val="minor"/><sz val="11"/><name val="Calibri"/></font>';
const DEFAULT_XF = '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>';

/** A list of XML entries, each numbered once. */
class Entries {
  readonly xml: string[] = [];
  private readonly index = new Map<string, number>();
  constructor(...initial: string[]) {
    for (const x of initial) this.add(x);
  }
  /** A copy, numbering what is added to it as this would. */
  copy(): Entries {
    const c = new Entries();
    for (const x of this.xml) c.add(x);
    return c;
  }
  add(xml: string): number {
    let i = this.index.get(xml);
    if (i === undefined) {
      i = this.xml.length;
      this.index.set(xml, i);
      this.xml.push(xml);
    }
    return i;
  }
}

export class StyleRegistry {
  private fonts = new Entries(DEFAULT_FONT);
  private fills = new Entries('<fill><patternFill patternType="none"/></fill>', '<fill><patternFill patternType="gray125"/></fill>');
  private borders = new Entries('<border><left/><right/><top/><bottom/><diagonal/></border>');
  private xfs = new Entries(DEFAULT_XF);
  private numFmts = new Map<string, number>();
  private numFmtXml: string[] = [];
  private readonly ids = new WeakMap<object, number>();

  /**
   * The numbers `styles` would get if registered next, in this order (`styleId` of each), without
   * registering them: they are numbered on a copy of the registry.
   */
  idsIfNext(styles: readonly (readonly [Style, StyleKind])[]): number[] {
    const trial = new StyleRegistry();
    trial.fonts = this.fonts.copy();
    trial.fills = this.fills.copy();
    trial.borders = this.borders.copy();
    trial.xfs = this.xfs.copy();
    trial.numFmts = new Map(this.numFmts);
    trial.numFmtXml = [...this.numFmtXml];
    return styles.map(([style, kind]) => trial.styleId(style, kind));
  }

  /** The cell format number of `style` (0: the default), registering it on first use. */
  styleId(style: Style, kind: StyleKind = 'number'): number {
    const known = this.ids.get(style);
    if (known !== undefined) return known;
    const numFmt = style.numFmt ?? (kind === 'number' ? 'General' : kind === 'date' ? 'mm-dd-yy' : undefined);
    const numFmtId = numFmt === undefined ? 0 : this.numFmtId(numFmt);
    const fontId = style.font ? this.fonts.add(fontXml(style.font)) : 0;
    const fillId = style.fill ? this.fills.add(fillXml(style.fill)) : 0;
    const borderId = style.border ? this.borders.add(borderXml(style.border)) : 0;
    const alignment = style.alignment ? alignmentXml(style.alignment) : '';
    let xf = `<xf numFmtId="${numFmtId}" fontId="${fontId}" fillId="${fillId}" borderId="${borderId}" xfId="0"`;
    if (numFmtId) xf += ' applyNumberFormat="1"';
    if (fontId) xf += ' applyFont="1"';
    if (fillId) xf += ' applyFill="1"';
    if (borderId) xf += ' applyBorder="1"';
    if (style.alignment) xf += ' applyAlignment="1"';
    xf += alignment ? `>${alignment}</xf>` : '/>';
    const id = this.xfs.add(xf);
    this.ids.set(style, id);
    return id;
  }

  private numFmtId(code: string): number {
    const builtin = BUILTIN_FORMATS[code];
    if (builtin !== undefined) return builtin;
    let id = this.numFmts.get(code);
    if (id === undefined) {
      id = 164 + this.numFmtXml.length;
      this.numFmts.set(code, id);
      this.numFmtXml.push(`<numFmt numFmtId="${id}" formatCode="${xmlEncode(code)}"/>`);
    }
    return id;
  }

  /** xl/styles.xml. */
  xml(): string {
    const list = (tag: string, items: readonly string[], attrs = '') => `<${tag} count="${items.length}"${attrs}>${items.join('')}</${tag}>`;
    return (
      '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' +
      '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="x14ac x16r2" xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac" xmlns:x16r2="http://schemas.microsoft.com/office/spreadsheetml/2015/02/main">' +
      (this.numFmtXml.length ? list('numFmts', this.numFmtXml) : '') +
      list('fonts', this.fonts.xml, ' x14ac:knownFonts="1"') +
      list('fills', this.fills.xml) +
      list('borders', this.borders.xml) +
      '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>' +
      list('cellXfs', this.xfs.xml) +
      '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles><dxfs count="0"/>' +
      '<tableStyles count="0" defaultTableStyle="TableStyleMedium2" defaultPivotStyle="PivotStyleLight16"/>' +
      '<extLst><ext uri="{EB79DEF2-80B8-43e5-95BD-54CBDDF9020C}" xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main"><x14:slicerStyles defaultSlicerStyle="SlicerStyleLight1"/></ext>' +
      '<ext uri="{9260A510-F301-46a8-8635-F512D64BE5F5}" xmlns:x15="http://schemas.microsoft.com/office/spreadsheetml/2010/11/main"><x15:timelineStyles defaultTimelineStyle="TimeSlicerStyleLight1"/></ext></extLst></styleSheet>'
    );
  }
}

const attr = (v: string) => `"${xmlEncode(v)}"`;

function fontXml(f: Font): string {
  let xml = '<font>';
  if (f.bold) xml += '<b/>';
  if (f.color) xml += `<color rgb=${attr(f.color.argb)}/>`;
  if (f.size) xml += `<sz val="${f.size}"/>`;
  if (f.name) xml += `<name val=${attr(f.name)}/>`;
  return `${xml}</font>`;
}

function fillXml(f: Fill): string {
  return `<fill><patternFill patternType="${f.pattern}"><fgColor rgb=${attr(f.fgColor.argb)}/><bgColor rgb=${attr(f.bgColor.argb)}/></patternFill></fill>`;
}

function borderXml(b: Borders): string {
  const side = (tag: string, s: BorderSide | undefined) => (s ? `<${tag} style="${s.style}"><color rgb=${attr(s.color.argb)}/></${tag}>` : `<${tag}/>`);
  return `<border>${side('left', b.left)}${side('right', b.right)}${side('top', b.top)}${side('bottom', b.bottom)}<diagonal/></border>`;
}

function alignmentXml(a: Alignment): string {
  let xml = '';
  if (a.horizontal) xml += ` horizontal="${a.horizontal}"`;
  // Excel's name for the middle.
  if (a.vertical) xml += ` vertical="${a.vertical === 'middle' ? 'center' : a.vertical}"`;
  if (a.wrapText) xml += ' wrapText="1"';
  return xml ? `<alignment${xml}/>` : '';
}
