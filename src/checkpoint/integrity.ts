/**
 * SHA-256 and size checks for checkpoint bytes, on the way in and on the way out. Downloads are
 * hashed as they arrive and never grow past the size the store reported. Loads fetch a few byte
 * ranges at once into one preallocated shared buffer that a worker thread hashes in order as it
 * fills (src/storage/hash-worker.ts): the whole file's SHA-256 and, in the same pass, the payload
 * hash the file embeds when the caller must check it.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { hashShared } from '../storage/hash-worker';
import type { SharedHashJob } from '../storage/hash-worker';
import type { RangeRead } from '../storage/object-client';
import { ObjectRangeError } from '../storage/object-client';
import { CheckpointCorruptError } from './errors';
import { readCheckpointHeader, readHeaderEnd } from './header';
import { payloadHashPrefix } from './payload-hash';

/** Byte ranges fetched at once by `downloadVerified`. */
export const RANGE_CONCURRENCY = 4;
const MAX_RANGE_BYTES = 8 * 1024 * 1024;
const MIN_RANGE_BYTES = 1024 * 1024;
/** Progress is reported to the hash thread at least this far apart (fewer messages). */
const REPORT_EVERY_BYTES = 1024 * 1024;

/** Hex SHA-256 over byte chunks, without concatenating them. */
export function sha256OfParts(parts: readonly Uint8Array[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

/**
 * What a download must match: the size the store reported and the hash it must have. Without
 * `sha256` (a file copied without our object metadata) only the size is checked here, and the
 * caller must verify the hash the file embeds (payload-hash.ts).
 */
export interface IntegrityTarget {
  url: string;
  bytes: number;
  sha256?: string;
}

/** Reads a whole object into one buffer of exactly `target.bytes`, verifying its SHA-256. */
export async function readVerified(body: Readable, target: IntegrityTarget): Promise<Buffer> {
  const out = Buffer.allocUnsafe(target.bytes);
  const hash = createHash('sha256');
  let received = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (received + chunk.length > target.bytes) {
      body.destroy();
      throw sizeError(target, received + chunk.length);
    }
    chunk.copy(out, received);
    hash.update(chunk);
    received += chunk.length;
  }
  if (received !== target.bytes) throw sizeError(target, received);
  if (target.sha256) checkHash(target, hash.digest('hex'));
  return out;
}

/**
 * Streams an object to `file` via a temporary sibling, renamed only once its size and hash (when
 * the target has one) verified and `check` accepted it. Returns the file's SHA-256.
 */
export async function writeVerified(
  body: Readable,
  file: string,
  target: IntegrityTarget,
  check: (partial: string) => Promise<void> = async () => undefined,
): Promise<string> {
  const hash = createHash('sha256');
  let received = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      received += chunk.length;
      if (received > target.bytes) return done(sizeError(target, received));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const partial = `${file}.partial-${process.pid}`;
  try {
    await pipeline(body, meter, createWriteStream(partial));
    if (received !== target.bytes) throw sizeError(target, received);
    const actual = hash.digest('hex');
    if (target.sha256) checkHash(target, actual);
    await check(partial);
    await rename(partial, file);
    return actual;
  } finally {
    await rm(partial, { force: true });
  }
}

/** Throws `CheckpointCorruptError('hash-mismatch')` unless `actual` is the target hash. */
export function checkHash(target: IntegrityTarget, actual: string): void {
  if (actual !== target.sha256?.toLowerCase()) {
    throw new CheckpointCorruptError(
      'hash-mismatch',
      `SHA-256 is ${actual}, expected ${target.sha256}`,
      target.url,
    );
  }
}

function sizeError(target: IntegrityTarget, received: number): CheckpointCorruptError {
  const kind = received < target.bytes ? 'truncated' : 'size-mismatch';
  return new CheckpointCorruptError(kind, `read ${received} bytes, expected ${target.bytes}`, target.url);
}

/** A verified download: the file, its SHA-256 and, when asked for, its payload's actual hash. */
export interface VerifiedDownload {
  bytes: Buffer;
  sha256: string;
  /** Undefined when not asked for, or when the header did not parse (the decoder will say why). */
  payloadSha256?: string;
}

interface Range {
  begin: number;
  length: number;
  filled: number;
}

/**
 * Downloads exactly `target.bytes` through `read` (ranged GETs, `RANGE_CONCURRENCY` at once) into one
 * buffer, checking the object's size on every reply and its SHA-256 against the target's, if any.
 * With `payloadHash`, the payload hash (payload-hash.ts) is computed in the same pass.
 */
export async function downloadVerified(
  read: (offset: number, length: number) => Promise<RangeRead>,
  target: IntegrityTarget,
  payloadHash = false,
): Promise<VerifiedDownload> {
  const size = target.bytes;
  const sab = new SharedArrayBuffer(size);
  const out = Buffer.from(sab);
  const job = hashShared(sab, [{ begin: 0, end: size }]);
  const ranges = splitRanges(size);
  let contiguous = 0;
  let reported = 0;
  let payloadRange = !payloadHash;
  const progress = () => {
    while (ranges[0] && ranges[0].filled === ranges[0].length) contiguous += ranges.shift()?.length ?? 0;
    const upTo = contiguous + (ranges[0]?.filled ?? 0);
    if (!payloadRange) payloadRange = addPayloadRange(job, out, upTo, size);
    if (upTo - reported >= REPORT_EVERY_BYTES || upTo === size) job.filled((reported = upTo));
  };
  try {
    await fetchRanges(read, [...ranges], out, target, progress);
    const [sha256 = '', payload] = await job.digests();
    if (target.sha256) checkHash(target, sha256);
    return payload === undefined ? { bytes: out, sha256 } : { bytes: out, sha256, payloadSha256: payload };
  } catch (err) {
    job.cancel();
    throw err;
  }
}

/** Once the header is in, starts the payload hash over the data section; false while it is not. */
function addPayloadRange(job: SharedHashJob, out: Buffer, upTo: number, size: number): boolean {
  try {
    if (upTo < 8 || upTo < readHeaderEnd(out, size)) return upTo === size;
    const header = readCheckpointHeader(out.subarray(0, upTo), size);
    const prefix = payloadHashPrefix(header.metadata, header.tensors);
    job.addRange({ begin: header.dataStart, end: header.dataStart + header.dataBytes, prefix });
  } catch {
    // Not a checkpoint we can read: no payload hash; decoding reports what is wrong.
  }
  return true;
}

/** `size` bytes as ranges of 1-8 MiB (whole MiB), about `RANGE_CONCURRENCY` or more of them. */
function splitRanges(size: number): Range[] {
  // Whole MiB: MinIO reads objects in 1 MiB blocks; an unaligned range splits one between two GETs.
  const quarter = Math.ceil(size / RANGE_CONCURRENCY / MIN_RANGE_BYTES) * MIN_RANGE_BYTES;
  const length = Math.min(MAX_RANGE_BYTES, Math.max(MIN_RANGE_BYTES, quarter));
  const ranges: Range[] = [];
  for (let begin = 0; begin < size; begin += length)
    ranges.push({ begin, length: Math.min(length, size - begin), filled: 0 });
  return ranges;
}

/** Fetches the ranges, `RANGE_CONCURRENCY` at once, each written in place; the first error wins. */
async function fetchRanges(
  read: (offset: number, length: number) => Promise<RangeRead>,
  queue: Range[],
  out: Buffer,
  target: IntegrityTarget,
  progress: () => void,
): Promise<void> {
  if (queue.length === 0) return fetchEmpty(read, target);
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    for (let range = queue.shift(); range && !failure; range = queue.shift()) {
      try {
        await fetchRange(read, range, out, target, progress, () => failure !== undefined);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: RANGE_CONCURRENCY }, lane));
  if (failure) throw failure.error;
}

async function fetchRange(
  read: (offset: number, length: number) => Promise<RangeRead>,
  range: Range,
  out: Buffer,
  target: IntegrityTarget,
  progress: () => void,
  stopped: () => boolean,
): Promise<void> {
  let reply: RangeRead;
  try {
    reply = await read(range.begin, range.length);
  } catch (err) {
    if (err instanceof ObjectRangeError) throw sizeError(target, range.begin);
    throw err;
  }
  const { body, objectSize } = reply;
  if (objectSize !== target.bytes) {
    body.destroy();
    throw sizeError(target, objectSize);
  }
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (stopped() || range.filled + chunk.length > range.length) {
      body.destroy();
      if (stopped()) return;
      throw sizeError(target, target.bytes + 1);
    }
    chunk.copy(out, range.begin + range.filled);
    range.filled += chunk.length;
    progress();
  }
  if (range.filled !== range.length) throw sizeError(target, range.begin + range.filled);
}

/** A zero-byte target: the object must be empty (a ranged GET cannot ask for no bytes). */
async function fetchEmpty(
  read: (offset: number, length: number) => Promise<RangeRead>,
  target: IntegrityTarget,
): Promise<void> {
  try {
    const { body } = await read(0, 1);
    body.destroy();
  } catch (err) {
    if (err instanceof ObjectRangeError) return;
    throw err;
  }
  throw sizeError(target, 1);
}
