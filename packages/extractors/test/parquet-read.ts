/**
 * A test-only Parquet reader for exactly what native/parquet-out.c writes: OPTIONAL INT64 and UTF-8 BYTE_ARRAY
 * columns, one uncompressed PLAIN data page (v1) per column chunk, definition levels RLE/bit-packed. It throws on
 * anything else, so a file outside that subset (or a broken one) fails the tests that read it.
 */
import { readFileSync } from 'node:fs';

export type ParquetValue = string | bigint | null;

export interface ParquetTable {
  names: string[];
  types: ('text' | 'int64')[];
  /** Rows per row group. */
  rowGroups: number[];
  rows: ParquetValue[][];
  createdBy: string;
}

type Thrift = number | bigint | boolean | Buffer | Thrift[] | ThriftStruct;
interface ThriftStruct {
  [field: number]: Thrift;
}

/** Thrift compact protocol: the struct at pos, and where it ends. */
class CompactReader {
  constructor(
    private readonly bytes: Buffer,
    public pos: number,
  ) {}

  private byte(): number {
    if (this.pos >= this.bytes.length) throw new Error('thrift: read past the end');
    return this.bytes[this.pos++] as number;
  }

  private varint(): bigint {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const b = this.byte();
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
      if (shift > 63n) throw new Error('thrift: varint too long');
    }
  }

  private zigzag(): bigint {
    const v = this.varint();
    return (v >> 1n) ^ -(v & 1n);
  }

  private value(type: number): Thrift {
    switch (type) {
      case 1:
        return true;
      case 2:
        return false;
      case 4:
      case 5:
        return Number(this.zigzag());
      case 6:
        return this.zigzag();
      case 8: {
        const n = Number(this.varint());
        if (this.pos + n > this.bytes.length) throw new Error('thrift: binary past the end');
        this.pos += n;
        return this.bytes.subarray(this.pos - n, this.pos);
      }
      case 9: {
        const head = this.byte();
        const size = head >> 4 === 15 ? Number(this.varint()) : head >> 4;
        const elem = head & 15;
        // booleans in a list are one byte each
        return Array.from({ length: size }, () => (elem === 1 || elem === 2 ? this.byte() === 1 : this.value(elem)));
      }
      case 12:
        return this.struct();
      default:
        throw new Error(`thrift: type ${type} is not in the subset`);
    }
  }

  struct(): ThriftStruct {
    const fields: ThriftStruct = {};
    for (let last = 0; ; ) {
      const head = this.byte();
      if (head === 0) return fields;
      const delta = head >> 4;
      const id = delta ? last + delta : Number(this.zigzag());
      if (id <= last) throw new Error(`thrift: field ${id} after ${last}`);
      fields[id] = this.value(head & 15);
      last = id;
    }
  }
}

function field<T extends Thrift>(s: ThriftStruct, id: number, what: string): T {
  const v = s[id];
  if (v === undefined) throw new Error(`parquet: ${what} (field ${id}) missing`);
  return v as T;
}

function expectEqual(actual: unknown, expected: unknown, what: string): void {
  if (actual !== expected) throw new Error(`parquet: ${what} is ${String(actual)}, expected ${String(expected)}`);
}

/** Definition levels of bit width 1 (RLE/bit-packed hybrid, length-prefixed): one flag per value. */
function definitionLevels(bytes: Buffer, count: number): boolean[] {
  const flags: boolean[] = [];
  let pos = 0;
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[pos++];
      if (b === undefined) throw new Error('parquet: levels past the end');
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
  };
  while (flags.length < count) {
    const header = varint();
    if (header & 1) {
      const groups = header >>> 1;
      for (let g = 0; g < groups; g++) {
        const b = bytes[pos++] as number;
        for (let i = 0; i < 8; i++) flags.push(((b >> i) & 1) === 1);
      }
    } else {
      const value = bytes[pos++];
      if (value !== 0 && value !== 1) throw new Error(`parquet: RLE level ${value}`);
      for (let i = 0; i < header >>> 1; i++) flags.push(value === 1);
    }
  }
  if (pos !== bytes.length) throw new Error('parquet: bytes after the levels');
  return flags.slice(0, count);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** One column chunk's values (null where undefined), checking its page against the chunk's metadata. */
function readChunk(file: Buffer, chunk: ThriftStruct, type: 'text' | 'int64', rows: number): ParquetValue[] {
  const meta = field<ThriftStruct>(chunk, 3, 'meta_data');
  const offset = Number(field<bigint>(meta, 9, 'data_page_offset'));
  expectEqual(Number(field<bigint>(chunk, 2, 'file_offset')), offset, 'file_offset');
  expectEqual(field<number>(meta, 1, 'type'), type === 'text' ? 6 : 2, 'column type');
  expectEqual(field<number>(meta, 4, 'codec'), 0, 'codec');
  expectEqual(Number(field<bigint>(meta, 5, 'num_values')), rows, 'num_values');
  const reader = new CompactReader(file, offset);
  const header = reader.struct();
  expectEqual(field<number>(header, 1, 'page type'), 0, 'page type');
  const size = field<number>(header, 2, 'uncompressed_page_size');
  expectEqual(field<number>(header, 3, 'compressed_page_size'), size, 'compressed_page_size');
  const data = field<ThriftStruct>(header, 5, 'data_page_header');
  expectEqual(field<number>(data, 1, 'num_values'), rows, 'page num_values');
  expectEqual(field<number>(data, 2, 'encoding'), 0, 'encoding');
  expectEqual(field<number>(data, 3, 'definition_level_encoding'), 3, 'definition_level_encoding');
  const chunkSize = reader.pos - offset + size;
  expectEqual(Number(field<bigint>(meta, 6, 'total_uncompressed_size')), chunkSize, 'total_uncompressed_size');
  expectEqual(Number(field<bigint>(meta, 7, 'total_compressed_size')), chunkSize, 'total_compressed_size');
  const page = file.subarray(reader.pos, reader.pos + size);
  const levelsLength = page.readUInt32LE(0);
  const defined = definitionLevels(page.subarray(4, 4 + levelsLength), rows);
  let at = 4 + levelsLength;
  const values = defined.map((isDefined): ParquetValue => {
    if (!isDefined) return null;
    if (type === 'int64') {
      at += 8;
      return page.readBigInt64LE(at - 8);
    }
    const n = page.readUInt32LE(at);
    at += 4 + n;
    if (at > page.length) throw new Error('parquet: a value past the page');
    return utf8.decode(page.subarray(at - n, at));
  });
  expectEqual(at, page.length, 'the values end');
  return values;
}

function columnsOf(schema: ThriftStruct[]): { names: string[]; types: ('text' | 'int64')[] } {
  const [root, ...columns] = schema;
  if (!root) throw new Error('parquet: no schema root');
  expectEqual(field<number>(root, 5, 'num_children'), columns.length, 'num_children');
  const names = columns.map((c) => field<Buffer>(c, 4, 'name').toString('utf8'));
  const types = columns.map((c) => {
    expectEqual(field<number>(c, 3, 'repetition_type'), 1, 'repetition_type (OPTIONAL)');
    const type = field<number>(c, 1, 'type');
    if (type === 2) return 'int64' as const;
    expectEqual(type, 6, 'type');
    expectEqual(field<number>(c, 6, 'converted_type'), 0, 'converted_type (UTF8)');
    const logical = field<ThriftStruct>(c, 10, 'logicalType');
    field<ThriftStruct>(logical, 1, 'logicalType STRING');
    return 'text' as const;
  });
  return { names, types };
}

export function readParquet(path: string): ParquetTable {
  const file = readFileSync(path);
  expectEqual(file.subarray(0, 4).toString('latin1'), 'PAR1', 'leading magic');
  expectEqual(file.subarray(-4).toString('latin1'), 'PAR1', 'trailing magic');
  const footerLength = file.readUInt32LE(file.length - 8);
  const footerAt = file.length - 8 - footerLength;
  const reader = new CompactReader(file, footerAt);
  const meta = reader.struct();
  expectEqual(reader.pos, file.length - 8, 'footer end');
  expectEqual(field<number>(meta, 1, 'version'), 1, 'version');
  const { names, types } = columnsOf(field<ThriftStruct[]>(meta, 2, 'schema'));
  const rows: ParquetValue[][] = [];
  const rowGroups: number[] = [];
  for (const group of field<ThriftStruct[]>(meta, 4, 'row_groups')) {
    const n = Number(field<bigint>(group, 3, 'num_rows'));
    const chunks = field<ThriftStruct[]>(group, 1, 'columns');
    expectEqual(chunks.length, names.length, 'column chunks');
    const columns = chunks.map((chunk, i) => readChunk(file.subarray(0, footerAt), chunk, types[i] as 'text' | 'int64', n));
    for (let r = 0; r < n; r++) rows.push(columns.map((values) => values[r] as ParquetValue));
    rowGroups.push(n);
  }
  expectEqual(Number(field<bigint>(meta, 3, 'num_rows')), rows.length, 'num_rows');
  return { names, types, rowGroups, rows, createdBy: field<Buffer>(meta, 6, 'created_by').toString('utf8') };
}
