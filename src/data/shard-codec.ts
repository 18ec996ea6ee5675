/**
 * One shard's rows as Parquet bytes and back. Scalar columns are plain Parquet FLOAT / INT32 columns
 * (any Parquet reader shows them); a column with a per-row shape (an image) is a BYTE_ARRAY column
 * whose value is the row's little-endian float32 / int32 values, row-major.
 */
import { parquetMetadata, parquetRead } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { ColumnSpec } from './manifest';
import { columnWidth } from './manifest';

export type ColumnValues = Float32Array | Int32Array;

/** Decoded rows of one shard, column by column: `rows * width` values per column. */
export interface ShardData {
  rows: number;
  columns: Map<string, ColumnValues>;
}

export function allocateColumn(column: ColumnSpec, rows: number): ColumnValues {
  const length = rows * columnWidth(column);
  return column.dtype === 'int32' ? new Int32Array(length) : new Float32Array(length);
}

/** Encodes `data` (its columns in `columns` order) as one Parquet file, one row group. */
export function encodeShard(columns: readonly ColumnSpec[], data: ShardData): Uint8Array {
  const columnData = columns.map((column) => {
    const values = data.columns.get(column.name);
    const width = columnWidth(column);
    if (!values || values.length !== data.rows * width)
      throw new Error(`shard column ${column.name}: expected ${data.rows * width} values`);
    if (column.shape.length === 0) {
      const type = column.dtype === 'int32' ? ('INT32' as const) : ('FLOAT' as const);
      return { name: column.name, data: values, type, nullable: false };
    }
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    const rows = Array.from({ length: data.rows }, (_, r) =>
      bytes.subarray(r * width * 4, (r + 1) * width * 4),
    );
    return { name: column.name, data: rows, type: 'BYTE_ARRAY' as const, nullable: false };
  });
  const buffer = parquetWriteBuffer({ columnData, rowGroupSize: Math.max(1, data.rows), statistics: false });
  return new Uint8Array(buffer);
}

/**
 * Decodes a shard written by `encodeShard` (or any Parquet file with these columns and types);
 * `describe` names the shard in errors. Throws when a column is missing or has the wrong size.
 */
export async function decodeShard(
  bytes: Uint8Array,
  columns: readonly ColumnSpec[],
  describe: string,
): Promise<ShardData> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const rows = Number(parquetMetadata(file).num_rows);
  const out = new Map<string, ColumnValues>();
  for (const column of columns) out.set(column.name, allocateColumn(column, rows));
  const filled = new Map<string, number>();
  await parquetRead({
    file,
    columns: columns.map((c) => c.name),
    utf8: false,
    onChunk: (chunk) => {
      const column = columns.find((c) => c.name === chunk.columnName);
      const target = out.get(chunk.columnName);
      if (!column || !target) return;
      copyChunk(column, target, chunk.columnData as ArrayLike<unknown>, chunk.rowStart, describe);
      filled.set(column.name, (filled.get(column.name) ?? 0) + (chunk.rowEnd - chunk.rowStart));
    },
  });
  for (const column of columns)
    if ((filled.get(column.name) ?? 0) !== rows)
      throw new Error(`${describe}: column "${column.name}" is missing or short`);
  return { rows, columns: out };
}

function copyChunk(
  column: ColumnSpec,
  target: ColumnValues,
  values: ArrayLike<unknown>,
  rowStart: number,
  describe: string,
): void {
  const width = columnWidth(column);
  if (column.shape.length === 0) {
    for (let i = 0; i < values.length; i++) target[rowStart + i] = Number(values[i]);
    return;
  }
  const bytes = new Uint8Array(target.buffer, target.byteOffset, target.byteLength);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (!(value instanceof Uint8Array) || value.byteLength !== width * 4)
      throw new Error(`${describe}: row ${rowStart + i} of column "${column.name}" is not ${width} values`);
    bytes.set(value, (rowStart + i) * width * 4);
  }
}
