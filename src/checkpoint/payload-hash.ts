/**
 * The hash a `.ckpt` carries inside itself (format v2), so a checkpoint copied with another tool
 * (`mc cp`, `aws s3 cp`: our object metadata is lost) can still be verified. It covers the whole
 * payload: every `__metadata__` entry (optimizer config, cursor, RNG state…) except itself, each
 * tensor's name, dtype, shape and offsets, and the data section byte for byte.
 */
import { createHash } from 'node:crypto';
import { CheckpointCorruptError } from './errors';
import type { CheckpointHeader } from './header';

/** `__metadata__` key of the embedded payload SHA-256 (hex). */
export const PAYLOAD_SHA256_KEY = 'payload_sha256';
/**
 * Reserved for a signature over `payload_sha256` (the security issue adds signing keys); it is left
 * out of the hash so that signing a checkpoint does not change the hash it signs.
 */
export const PAYLOAD_SIGNATURE_KEY = 'payload_signature';

/** Where one tensor lies in the data section, as the hash sees it. */
export interface HashedTensor {
  name: string;
  dtype: string;
  shape: readonly number[];
  begin: number;
  end: number;
}

/** Hex SHA-256 of a checkpoint's payload; `tensors` in data order, `data` the data section's chunks. */
export function payloadSha256(
  metadata: Record<string, string>,
  tensors: readonly HashedTensor[],
  data: readonly Uint8Array[],
): string {
  const hash = createHash('sha256');
  hash.update(payloadHashPrefix(metadata, tensors), 'utf8');
  for (const chunk of data) hash.update(chunk);
  return hash.digest('hex');
}

/**
 * What the payload hash covers before the data section: the metadata entries and the tensor layout,
 * as one line. Exposed so a download can hash the data section in the same pass as the whole file.
 */
export function payloadHashPrefix(
  metadata: Record<string, string>,
  tensors: readonly HashedTensor[],
): string {
  const entries = Object.entries(metadata)
    .filter(([k]) => k !== PAYLOAD_SHA256_KEY && k !== PAYLOAD_SIGNATURE_KEY)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // Empty tensors share an offset, and JSON.parse reorders integer-like names: sort by offsets, then name.
  const layout = [...tensors]
    .sort((a, b) => a.begin - b.begin || a.end - b.end || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((t) => [t.name, t.dtype, t.shape, t.begin, t.end]);
  return `${JSON.stringify({ metadata: entries, tensors: layout })}\n`;
}

/**
 * Checks the embedded hash of a decoded header against `bytes` (the whole file). A file without one
 * (format v1) passes only when `required` is false; `target` names the file in errors.
 */
export function verifyPayloadSha256(
  header: CheckpointHeader,
  bytes: Uint8Array,
  target?: string,
  required = true,
): void {
  const data = () => bytes.subarray(header.dataStart, header.dataStart + header.dataBytes);
  checkPayloadSha256(
    header,
    () => payloadSha256(header.metadata, header.tensors, [data()]),
    target,
    required,
  );
}

/**
 * Like `verifyPayloadSha256`, with the payload's actual hash already computed (in the same pass as
 * the download) or computed on demand by `actual`.
 */
export function checkPayloadSha256(
  header: CheckpointHeader,
  actual: string | (() => string),
  target?: string,
  required = true,
): void {
  const embedded = header.metadata[PAYLOAD_SHA256_KEY];
  if (embedded === undefined) {
    if (!required) return;
    throw new CheckpointCorruptError(
      'bad-metadata',
      'no SHA-256 in object metadata, and the file embeds none (format v1, copied without its object ' +
        'metadata): copy the original object with its metadata, or use a checkpoint written by durable-fit ≥ 0.2',
      target,
    );
  }
  const hex = typeof actual === 'string' ? actual : actual();
  if (hex !== embedded.toLowerCase()) {
    throw new CheckpointCorruptError(
      'hash-mismatch',
      `payload hashes to ${hex}, the file's header says ${embedded}`,
      target,
    );
  }
}
