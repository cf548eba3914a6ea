import {
  Bool,
  type DataType,
  Field,
  Float64,
  Int32,
  Int64,
  List,
  Struct,
  Table,
  TimestampMicrosecond,
  Utf8,
  vectorFromArray,
  type Vector,
} from 'apache-arrow';
import type { Column } from './types.js';

/** Arrow type for a DuckDB column type used by the dataframes. */
export function arrowType(duckType: string): DataType {
  switch (duckType) {
    case 'VARCHAR':
      return new Utf8();
    case 'BIGINT':
      return new Int64();
    case 'INTEGER':
      return new Int32();
    case 'DOUBLE':
      return new Float64();
    case 'BOOLEAN':
      return new Bool();
    case 'TIMESTAMP':
      return new TimestampMicrosecond();
    case 'VARCHAR[]':
      return new List(new Field('item', new Utf8(), true));
    case 'STRUCT(key VARCHAR, value VARCHAR)[]':
      return new List(
        new Field('item', new Struct([new Field('key', new Utf8(), true), new Field('value', new Utf8(), true)]), true),
      );
    default:
      throw new Error(`no Arrow type for DuckDB type ${duckType}`);
  }
}

function arrowValue(duckType: string, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (duckType === 'BIGINT') return typeof v === 'bigint' ? v : BigInt(v as number);
  if (duckType === 'INTEGER' || duckType === 'DOUBLE') return Number(v);
  // Arrow JS takes timestamps as epoch milliseconds (as a number) for every unit.
  if (duckType === 'TIMESTAMP') return v instanceof Date ? v.getTime() : v;
  return v;
}

/** Build an Arrow table from row objects with explicit column types (so empty tables keep them). */
export function toArrowTable(columns: readonly Column[], rows: readonly Record<string, unknown>[]): Table {
  const vectors: Record<string, Vector> = {};
  for (const c of columns) {
    vectors[c.name] = vectorFromArray(
      rows.map((r) => arrowValue(c.type, r[c.name])),
      arrowType(c.type),
    );
  }
  return new Table(vectors);
}
