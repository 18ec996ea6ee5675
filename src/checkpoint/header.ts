/**
 * Reads and validates a safetensors header without touching tensor data. Every check runs before
 * anything proportional to a claimed size is allocated, so a truncated or hostile file yields a
 * `CheckpointCorruptError`, never a crash, a hang or a giant allocation.
 */
import type { TensorDType } from '../state';
import { DTYPE_SIZES, isTensorDType } from './dtypes';
import { CheckpointCorruptError } from './errors';

/** Largest header we read (the reference implementation's cap). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Where one tensor's bytes lie, relative to the start of the data section. */
export interface TensorInfo {
  name: string;
  dtype: TensorDType;
  shape: number[];
  begin: number;
  end: number;
}

export interface CheckpointHeader {
  /** 8 + header length: the file offset where tensor data starts. */
  dataStart: number;
  /** Size of the data section. */
  dataBytes: number;
  /** Total file size. */
  totalBytes: number;
  /** Tensors in data order. */
  tensors: TensorInfo[];
  /** `__metadata__`: string keys to string values. */
  metadata: Record<string, string>;
}

const bad = (detail: string) => new CheckpointCorruptError('bad-header', detail);
const truncated = (detail: string) => new CheckpointCorruptError('truncated', detail);

/**
 * Reads the 8-byte header length from the first bytes of a file of `fileSize` bytes and checks it
 * against the file size and the cap. Returns 8 + length: how many bytes the header needs.
 */
export function readHeaderEnd(prefix: Uint8Array, fileSize: number): number {
  if (fileSize < 8 || prefix.length < 8)
    throw truncated(`file has ${fileSize} bytes, fewer than the 8-byte length`);
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const length = view.getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES))
    throw bad(`header length ${length} exceeds the ${MAX_HEADER_BYTES}-byte cap`);
  const end = 8 + Number(length);
  if (end > fileSize) throw truncated(`header claims ${length} bytes but the file has ${fileSize}`);
  if (length < 2n) throw bad(`header length ${length} is too short for JSON`);
  return end;
}

/**
 * Validates the header of a checkpoint. `bytes` may be the whole file or only its first
 * `dataStart` bytes, with `fileSize` the size of the whole file.
 */
export function readCheckpointHeader(bytes: Uint8Array, fileSize: number = bytes.length): CheckpointHeader {
  const dataStart = readHeaderEnd(bytes, fileSize);
  if (bytes.length < dataStart) throw truncated(`need ${dataStart} header bytes, got ${bytes.length}`);
  const json = parseHeaderJson(bytes.subarray(8, dataStart));
  const dataBytes = fileSize - dataStart;
  let metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') metadata = validateMetadata(entry);
    else tensors.push(validateEntry(name, entry));
  }
  checkLayout(tensors, dataBytes);
  return { dataStart, dataBytes, totalBytes: fileSize, tensors, metadata };
}

function parseHeaderJson(raw: Uint8Array): Record<string, unknown> {
  if (raw[0] !== 0x7b) throw bad('header does not start with "{"');
  let text: string;
  try {
    // TextDecoder refuses views of shared memory (downloads may land in a SharedArrayBuffer).
    const own = raw.buffer instanceof SharedArrayBuffer ? raw.slice() : raw;
    text = new TextDecoder('utf-8', { fatal: true }).decode(own);
  } catch {
    throw bad('header is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw bad(`header is not valid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(parsed)) throw bad('header JSON is not an object');
  return parsed;
}

function validateMetadata(entry: unknown): Record<string, string> {
  if (!isPlainObject(entry)) throw bad('__metadata__ is not an object');
  for (const [key, value] of Object.entries(entry)) {
    if (typeof value !== 'string') throw bad(`__metadata__.${key} is not a string`);
  }
  return Object.fromEntries(Object.entries(entry)) as Record<string, string>;
}

function validateEntry(name: string, entry: unknown): TensorInfo {
  if (!isPlainObject(entry)) throw bad(`tensor ${JSON.stringify(name)} is not an object`);
  const { dtype, shape, data_offsets: offsets } = entry;
  if (!isTensorDType(dtype))
    throw bad(`tensor ${JSON.stringify(name)} has unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isSize)) {
    throw bad(`tensor ${JSON.stringify(name)} shape is not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isSize)) {
    throw bad(`tensor ${JSON.stringify(name)} data_offsets is not [begin, end]`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw bad(`tensor ${JSON.stringify(name)} ends before it begins`);
  const numel = (shape as number[]).reduce((n, d) => n * d, 1);
  if (!Number.isSafeInteger(numel) || numel * DTYPE_SIZES[dtype] !== end - begin) {
    throw bad(
      `tensor ${JSON.stringify(name)} has ${end - begin} bytes, not shape × ${DTYPE_SIZES[dtype]}-byte ${dtype}`,
    );
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/** Tensors must tile the data section exactly: sorted by offset, no gap, no overlap, no tail. */
function checkLayout(tensors: TensorInfo[], dataBytes: number): void {
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const t of tensors) {
    if (t.begin !== cursor) {
      throw bad(`tensor ${JSON.stringify(t.name)} starts at ${t.begin}, expected ${cursor} (gap or overlap)`);
    }
    cursor = t.end;
  }
  if (cursor < dataBytes) throw bad(`data section has ${dataBytes - cursor} bytes that no tensor covers`);
  if (cursor > dataBytes) throw truncated(`tensors need ${cursor} data bytes but the file has ${dataBytes}`);
}

function isSize(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
