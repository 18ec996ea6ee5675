// SHA-256 in the worker thread: the same digests as node:crypto on the calling thread, the caller's
// chunks untouched (copied, never transferred away), ranges of a shared buffer hashed in one pass as
// it fills, and an event loop that keeps turning while a large hash runs.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { hashChunks, hashShared } from '../../src/storage/hash-worker';

const MiB = 1024 * 1024;
const sha256 = (...parts: (Uint8Array | string)[]) => {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  return hash.digest('hex');
};

function pattern(bytes: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let x = seed;
  for (let i = 0; i < bytes; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}

test('hashChunks equals node:crypto over odd chunk boundaries and leaves the chunks as they were', async () => {
  const whole = pattern(9 * MiB + 17);
  const chunks = [whole.subarray(0, 3), whole.subarray(3, 5 * MiB + 1), whole.subarray(5 * MiB + 1)];
  assert.equal(await hashChunks(chunks), sha256(whole));
  assert.deepEqual(
    chunks.map((c) => c.byteLength),
    [3, 5 * MiB - 2, 4 * MiB + 16],
    'not detached',
  );
  assert.equal(sha256(whole), sha256(Buffer.concat(chunks)), 'bytes unchanged');
  assert.equal(await hashChunks([whole.subarray(0, 100)]), sha256(whole.subarray(0, 100)), 'small: inline');
  assert.equal(await hashChunks([]), sha256(''));
});

test('hashShared hashes ranges (one with a prefix) in one pass as the buffer fills', async () => {
  const size = 6 * MiB + 5;
  const sab = new SharedArrayBuffer(size);
  const view = Buffer.from(sab);
  const source = pattern(size, 7);
  const job = hashShared(sab, [{ begin: 0, end: size }]);
  source.copy(view, 0, 0, 2 * MiB);
  job.filled(2 * MiB);
  // Added after bytes of its range were filled: it catches up.
  const second = job.addRange({ begin: 1000, end: 5 * MiB, prefix: 'layout\n' });
  source.copy(view, 2 * MiB, 2 * MiB);
  job.filled(size);
  const digests = await job.digests();
  assert.equal(second, 1);
  assert.deepEqual(digests, [sha256(source), sha256('layout\n', source.subarray(1000, 5 * MiB))]);
});

test('the event loop keeps turning while the worker thread hashes', async () => {
  // Hashed on this thread, the digest would be ready before the event loop turns again (a resolved
  // promise wins against setImmediate); in the worker thread, the loop turns first. No clock involved.
  const data = pattern(64 * MiB, 3);
  const hashing = hashChunks([data]);
  const first = await Promise.race([
    hashing.then(() => 'digest'),
    new Promise<string>((resolve) => setImmediate(() => resolve('event loop'))),
  ]);
  assert.equal(first, 'event loop', 'the hash of 64 MiB blocked the event loop');
  assert.equal(await hashing, sha256(data));
});
