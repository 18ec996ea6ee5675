/**
 * SHA-256 and size checks for checkpoint bytes, on the way in and on the way out. Downloads are
 * hashed chunk by chunk as they arrive and never grow past the size the store reported.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { CheckpointCorruptError } from './errors';

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
