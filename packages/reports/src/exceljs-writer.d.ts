// exceljs ships types for its index only; the streaming writer is imported on its own (sheet.ts).
declare module 'exceljs/lib/stream/xlsx/workbook-writer.js' {
  const WorkbookWriter: unknown;
  export default WorkbookWriter;
}
