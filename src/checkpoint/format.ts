/**
 * The `.ckpt` format: a safetensors file (8-byte little-endian header length, JSON header padded
 * with spaces to 8-byte alignment, raw little-endian tensor bytes), laid out as the reference writer
 * does, so Python's `safetensors` loads our weights and optimizer slots. `__metadata__` holds the
 * format marker, version, kind and each `CheckpointMeta` field as JSON (see meta-codec.ts), and
 * since format v2 the payload's own SHA-256 (see payload-hash.ts), checked on every decode, and,
 * when the writer had a signing key, a signature over that hash (see signing.ts).
 */
import type { NamedTensor, TrainingState } from '../state';
import { compareForLayout, DTYPE_SIZES, isTensorDType } from './dtypes';
import { InvalidCheckpointStateError } from './errors';
import type { CheckpointHeader } from './header';
import { readCheckpointHeader } from './header';
import { decodeMeta, encodeMeta } from './meta-codec';
import type { HashedTensor } from './payload-hash';
import { PAYLOAD_SHA256_KEY, payloadSha256, verifyPayloadSha256 } from './payload-hash';

export { readCheckpointHeader } from './header';
export type { CheckpointHeader, TensorInfo } from './header';
export { CHECKPOINT_FORMAT_VERSION, CKPT_FORMAT_MARKER } from './meta-codec';

/** A checkpoint as a list of byte chunks (header first, then each tensor's bytes, no copies). */
export interface EncodedCheckpoint {
  parts: Uint8Array[];
  bytes: number;
}

/** Tensors and raw `__metadata__` strings: the container under both checkpoint kinds. */
export interface CheckpointContainer {
  tensors: NamedTensor[];
  metadata: Record<string, string>;
  header: CheckpointHeader;
}

/** Encodes a training state as chunks, for streaming uploads. */
export function encodeCheckpointParts(state: TrainingState): EncodedCheckpoint {
  return encodeContainerParts(state.tensors, encodeMeta(state.meta));
}

/** Encodes a training state into one buffer. */
export function encodeCheckpoint(state: TrainingState): Buffer {
  const { parts, bytes } = encodeCheckpointParts(state);
  return Buffer.concat(parts, bytes);
}

/**
 * Decodes and validates a checkpoint. Tensors come back in file order and their `data` are views
 * into `bytes` (no copy). `target` names the file in errors. `payloadVerified`: the caller has just
 * checked the embedded payload hash of these very bytes (the store does, with signing keys), so the
 * second pass over the data is skipped.
 */
export function decodeCheckpoint(bytes: Uint8Array, target?: string, payloadVerified = false): TrainingState {
  const { tensors, metadata, header } = decodeContainer(bytes);
  const meta = decodeMeta(metadata, target); // marker and version first: a newer file says so
  if (!payloadVerified) verifyPayloadSha256(header, bytes, target, meta.formatVersion >= 2);
  return { tensors, meta };
}

/** Encodes tensors plus metadata strings in the safetensors layout. */
export function encodeContainerParts(
  tensors: readonly NamedTensor[],
  metadata: Record<string, string>,
): EncodedCheckpoint {
  tensors.forEach(checkTensor);
  checkUniqueNames(tensors);
  const ordered = [...tensors].sort(compareForLayout);
  const layout: HashedTensor[] = [];
  let offset = 0;
  for (const t of ordered) {
    layout.push({
      name: t.name,
      dtype: t.dtype,
      shape: t.shape,
      begin: offset,
      end: offset + t.data.byteLength,
    });
    offset += t.data.byteLength;
  }
  const data = ordered.map((t) => t.data);
  const hashed = { ...metadata, [PAYLOAD_SHA256_KEY]: payloadSha256(metadata, layout, data) };
  const head = encodeHeaderChunk(hashed, layout);
  const parts: Uint8Array[] = [head, ...data.filter((d) => d.byteLength > 0)];
  return { parts, bytes: head.length + offset };
}

/**
 * The same checkpoint with `entries` added to (or replacing those in) its `__metadata__`; the data
 * chunks are reused as they are. For entries the payload hash leaves out (the signature), so the
 * embedded hash still holds. The first part must hold the whole header.
 */
export function withHeaderEntries(
  encoded: EncodedCheckpoint,
  entries: Record<string, string>,
): EncodedCheckpoint {
  const [first, ...rest] = encoded.parts;
  if (!first) throw new InvalidCheckpointStateError('an encoded checkpoint has no parts');
  const header = readCheckpointHeader(first, encoded.bytes);
  const head = encodeHeaderChunk({ ...header.metadata, ...entries }, header.tensors);
  const data = [first.subarray(header.dataStart), ...rest].filter((d) => d.byteLength > 0);
  return { parts: [head, ...data], bytes: head.length + header.dataBytes };
}

/** Length prefix, header JSON (tensors in data order) and space padding to 8-byte alignment. */
function encodeHeaderChunk(metadata: Record<string, string>, layout: readonly HashedTensor[]): Buffer {
  const entries = [`"__metadata__":${JSON.stringify(metadata)}`];
  for (const t of layout) {
    entries.push(
      `${JSON.stringify(t.name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [t.begin, t.end] })}`,
    );
  }
  // Keys are joined by hand: a JS object would move integer-like tensor names to the front.
  const json = Buffer.from(`{${entries.join(',')}}`, 'utf8');
  const padding = (8 - (json.length % 8)) % 8;
  const head = Buffer.alloc(8 + json.length + padding, 0x20);
  head.writeBigUInt64LE(BigInt(json.length + padding), 0);
  json.copy(head, 8);
  return head;
}

/** Validates and decodes the container; tensor data are views into `bytes`. */
export function decodeContainer(bytes: Uint8Array): CheckpointContainer {
  const header = readCheckpointHeader(bytes);
  const tensors = header.tensors.map((t) => ({
    name: t.name,
    dtype: t.dtype,
    shape: t.shape,
    data: bytes.subarray(header.dataStart + t.begin, header.dataStart + t.end),
  }));
  return { tensors, metadata: header.metadata, header };
}

function checkTensor(t: NamedTensor): void {
  const label = JSON.stringify(t.name);
  if (typeof t.name !== 'string' || t.name === '__metadata__')
    throw new InvalidCheckpointStateError(`tensor name ${label}`);
  if (!isTensorDType(t.dtype))
    throw new InvalidCheckpointStateError(`tensor ${label} has unknown dtype ${t.dtype}`);
  if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new InvalidCheckpointStateError(
      `tensor ${label} shape [${t.shape.join(',')}] is not non-negative integers`,
    );
  }
  const want = t.shape.reduce((n, d) => n * d, 1) * DTYPE_SIZES[t.dtype];
  if (!(t.data instanceof Uint8Array) || t.data.byteLength !== want) {
    throw new InvalidCheckpointStateError(
      `tensor ${label} has ${t.data?.byteLength} bytes, its shape needs ${want}`,
    );
  }
}

function checkUniqueNames(tensors: readonly NamedTensor[]): void {
  const seen = new Set<string>();
  for (const t of tensors) {
    if (seen.has(t.name))
      throw new InvalidCheckpointStateError(`tensor name ${JSON.stringify(t.name)} appears twice`);
    seen.add(t.name);
  }
}
