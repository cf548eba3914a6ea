// exceljs ships types for its index only; the streaming writer is imported on its own (sheet.ts).
declare module 'exceljs/lib/stream/xlsx/workbook-writer.js' {
  const WorkbookWriter: unknown;
  export default WorkbookWriter;
}

// The cell renderer the streaming writer uses (patched by padded-text.ts).
declare module 'exceljs/lib/xlsx/xform/sheet/cell-xform.js' {
  const CellXform: unknown;
  export default CellXform;
}

// exceljs's helpers (sheet.ts writes data rows with its XML escaping).
declare module 'exceljs/lib/utils/utils.js' {
  const utils: unknown;
  export default utils;
}
