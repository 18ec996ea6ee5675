/** Safetensors dtypes: element sizes, and the order the reference writer lays tensors out in. */
import type { TensorDType } from '../state';

/** Bytes per element. */
export const DTYPE_SIZES: Readonly<Record<TensorDType, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/**
 * Rank in the safetensors `Dtype` enum. The reference writer sorts tensors by dtype descending, then
 * by name, so wide types come first and every tensor starts aligned to its element size.
 */
const DTYPE_RANK: Readonly<Record<TensorDType, number>> = {
  BOOL: 0,
  U8: 1,
  I8: 2,
  I16: 3,
  U16: 4,
  F16: 5,
  BF16: 6,
  I32: 7,
  U32: 8,
  F32: 9,
  F64: 10,
  I64: 11,
  U64: 12,
};

export function isTensorDType(value: unknown): value is TensorDType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZES, value);
}

/** Comparator for the on-disk tensor order: dtype rank descending, then name by UTF-8 bytes (as Rust). */
export function compareForLayout(
  a: { name: string; dtype: TensorDType },
  b: { name: string; dtype: TensorDType },
): number {
  const byType = DTYPE_RANK[b.dtype] - DTYPE_RANK[a.dtype];
  if (byType !== 0) return byType;
  return Buffer.compare(Buffer.from(a.name, 'utf8'), Buffer.from(b.name, 'utf8'));
}
