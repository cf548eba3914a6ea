/**
 * Texts with leading or trailing whitespace, kept by every reader. exceljs writes a text cell
 * without shared strings as `<c t="str"><v>…</v></c>`, whose surrounding spaces LibreOffice
 * drops (the reference's "Company Business leader " label). Such a text is written instead as
 * an inline string with `<t xml:space="preserve">`, as Excel itself writes it; every other
 * cell is rendered by exceljs unchanged. Patched once, on the renderer the streaming writer
 * uses: rows are still written as they come.
 */
import { createRequire } from 'node:module';

/** The part of exceljs's XML stream the patched renderer writes with. */
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
/** Text with leading or trailing whitespace. */
export const PADDED = /^\s|\s$/;

/** Whether exceljs would write `model` as `<v>` text that loses its surrounding whitespace. */
export function isPaddedText(model: CellModel): model is CellModel & { value: string } {
  return model.type === STRING && model.ssId === undefined && typeof model.value === 'string' && PADDED.test(model.value);
}

function renderPadded(xmlStream: XmlStream, model: CellModel & { value: string }): void {
  xmlStream.openNode('c');
  xmlStream.addAttribute('r', model.address);
  if (model.styleId) xmlStream.addAttribute('s', model.styleId);
  xmlStream.addAttribute('t', 'inlineStr');
  xmlStream.openNode('is');
  xmlStream.leafNode('t', { 'xml:space': 'preserve' }, model.value);
  xmlStream.closeNode();
  xmlStream.closeNode();
}

/** A CommonJS module of exceljs, required (see sheet.ts's loadWorkbookWriter). */
export const requireExceljs: (path: string) => unknown = createRequire(import.meta.url);

let patched: Promise<void> | undefined;

/** Make exceljs's cell renderer keep surrounding whitespace (once per process, after the current task). */
export function keepPaddedText(): Promise<void> {
  patched ??= Promise.resolve().then(() => {
    const proto = (requireExceljs('exceljs/lib/xlsx/xform/sheet/cell-xform.js') as { prototype: { render: Render } }).prototype;
    const render = proto.render;
    proto.render = function (xmlStream, model) {
      if (isPaddedText(model)) renderPadded(xmlStream, model);
      else render.call(this, xmlStream, model);
    };
  });
  return patched;
}
