// The fast checkpoint I/O paths on the real MinIO: parallel multipart parts made of views (in order,
// whatever the chunk boundaries), loads by parallel ranged GETs into one shared buffer (equal bytes,
// a corrupted or truncated range refused by size and hash), the server-checked SHA-256 of a single
// PUT, and a failed multipart upload that leaves no parts and no journal behind.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { CheckpointCorruptError } from '../../src/checkpoint/errors';
import { encodeCheckpoint } from '../../src/checkpoint/format';
import { ObjectCheckpointIO } from '../../src/checkpoint/object-checkpoint-io';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import type { MinioConnection } from '../../src/storage/minio-adapter';
import { PART_CONCURRENCY } from '../../src/storage/multipart-upload';
import type { TrainingState } from '../../src/state';
import { largeState, normalisedTensors } from '../helpers/checkpoint-fixtures';
import { rawMinioClient } from '../helpers/raw-minio';
import { testStack } from '../helpers/stack-env';

const MiB = 1024 * 1024;
const connection: MinioConnection = {
  ...testStack().s3,
  bucket: `ckpt-io-${process.pid}-${Date.now() % 1e6}`,
};
// 5 MiB parts (S3's least): a 28 MB checkpoint is 6 parts, more than go up at once.
const objects = createMinioObjectClient(connection, {
  multipartThresholdBytes: 5 * MiB,
  partSizeBytes: 5 * MiB,
});
const store = new ObjectCheckpointIO(objects);
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

const rawClient = () => rawMinioClient(connection);

async function readObject(key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await objects.get(key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The big tensor of `state` as `count` tensors of odd sizes (views), so chunks straddle parts. */
function manyTensors(state: TrainingState, count: number): TrainingState {
  const big = state.tensors[0];
  if (!big) throw new Error('no tensor');
  const floats = big.data.byteLength / 4;
  const per = Math.floor(floats / count) - 7;
  const tensors = Array.from({ length: count }, (_, i) => {
    const n = i === count - 1 ? floats - per * (count - 1) : per;
    const data = big.data.subarray(i * per * 4, i * per * 4 + n * 4);
    return { name: `layer${i}/kernel`, dtype: 'F32' as const, shape: [n], data };
  });
  return { meta: state.meta, tensors };
}

before(async () => {
  if (!(await objects.bucketExists())) await objects.makeBucket();
});

after(async () => {
  for (const o of await objects.list('')) await objects.remove(o.key);
});

describe('checkpoint I/O on MinIO', () => {
  test('parallel parts of a chunk list land in order, whatever the chunk boundaries', async () => {
    const whole = encodeCheckpoint(largeState(28));
    // Odd chunk sizes: parts are made of views across chunk boundaries.
    const chunks: Uint8Array[] = [];
    for (let at = 0, n = 1; at < whole.length; at += n, n = (n * 7 + 3) % (3 * MiB) || 1)
      chunks.push(whole.subarray(at, at + n));
    assert.ok(Math.ceil(whole.length / (5 * MiB)) > PART_CONCURRENCY, 'more parts than go up at once');
    await objects.put('parts/chunks.bin', chunks, { ifNoneMatch: true });
    assert.equal(sha256(await readObject('parts/chunks.bin')), sha256(whole));
    assert.equal(
      whole.length,
      chunks.reduce((n, c) => n + c.byteLength, 0),
      'the chunks were not touched',
    );
    await objects.put('parts/stream.bin', Readable.from(chunks.map((c) => Buffer.from(c))), {
      size: whole.length,
    });
    assert.equal(sha256(await readObject('parts/stream.bin')), sha256(whole));
    await assert.rejects(objects.put('parts/chunks.bin', chunks, { ifNoneMatch: true }), {
      name: 'ObjectExistsError',
    });
  });

  test('a multi-part checkpoint loads by ranged GETs into one shared buffer, equal to what was saved', async () => {
    const state = manyTensors(largeState(28), 37);
    const saved = await store.save('ranged', state);
    const bytes = await store.loadBytes(saved.url, saved);
    assert.ok(bytes.buffer instanceof SharedArrayBuffer, 'downloaded into the shared buffer');
    assert.equal(sha256(bytes), saved.sha256);
    assert.equal(sha256(bytes), sha256(encodeCheckpoint(state)));
    const loaded = await store.load(saved.url); // a stat first, the payload hash in the same pass
    assert.deepEqual(normalisedTensors(loaded.tensors), normalisedTensors(state.tensors));
    assert.deepEqual(loaded.meta.cursor, state.meta.cursor);
  });

  test('a corrupted or truncated range is refused by the hash and the size, before decoding', async () => {
    const saved = await store.save('corrupt', largeState(20));
    const good = await readObject(saved.key);
    const flipped = Buffer.from(good);
    const at = 13 * MiB + 12345; // inside a later range, not the first
    flipped[at] = (flipped[at] ?? 0) ^ 0x10;
    const key = 'corrupt/epoch=0009-step=0000009.ckpt';
    await objects.put(key, flipped, { metadata: { sha256: saved.sha256 } });
    const url = `s3://${connection.bucket}/${key}`;
    const isKind = (kind: string) => (err: unknown) =>
      err instanceof CheckpointCorruptError && err.kind === kind;
    await assert.rejects(
      store.load(url, { sha256: saved.sha256, bytes: saved.bytes }),
      isKind('hash-mismatch'),
    );
    await assert.rejects(store.load(url), isKind('hash-mismatch'));
    const short = 'corrupt/epoch=0009-step=0000010.ckpt';
    await objects.put(short, good.subarray(0, good.length - 3 * MiB), { metadata: { sha256: saved.sha256 } });
    await assert.rejects(
      store.load(`s3://${connection.bucket}/${short}`, { sha256: saved.sha256, bytes: saved.bytes }),
      isKind('truncated'),
    );
    // A file with a consistent object hash but a changed payload: the embedded hash, same pass.
    const forged = 'corrupt/epoch=0009-step=0000011.ckpt';
    await objects.put(forged, flipped, { metadata: { sha256: sha256(flipped) } });
    await assert.rejects(store.load(`s3://${connection.bucket}/${forged}`), isKind('hash-mismatch'));
  });

  test("a single PUT carries its SHA-256, and the server refuses bytes that don't match it", async () => {
    const body = Buffer.alloc(4096, 3);
    await objects.put('single/ok.bin', body, { sha256: sha256(body) });
    await assert.rejects(objects.put('single/bad.bin', body, { sha256: 'a'.repeat(64) }));
    assert.equal(await objects.stat('single/bad.bin'), undefined, 'nothing stored');
  });

  test('a multipart upload whose body fails is aborted: no parts, no journal, no object', async () => {
    let sent = 0;
    const body = new Readable({
      read() {
        if (sent >= 12 * MiB) return this.destroy(new Error('the trainer died mid-upload'));
        sent += MiB;
        this.push(Buffer.alloc(MiB, 5));
      },
    });
    await assert.rejects(
      objects.put('failed/epoch=0001-step=0000001.ckpt', body, { size: 40 * MiB, ifNoneMatch: true }),
      /the trainer died mid-upload/,
    );
    assert.ok(sent >= 12 * MiB, 'parts went up before the failure');
    // Asked of S3 itself by exact key (the adapter's own listing goes through the journal).
    const uploads: unknown[] = [];
    for await (const u of rawClient().listIncompleteUploads(
      connection.bucket,
      'failed/epoch=0001-step=0000001.ckpt',
      true,
    ))
      uploads.push(u);
    assert.deepEqual(uploads, [], 'the upload was aborted');
    assert.deepEqual(await objects.list('failed/'), [], 'no journal entry, no object');
  });
});
