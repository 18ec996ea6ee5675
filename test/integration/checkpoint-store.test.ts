// The checkpoint I/O port (and a run folder's listing) on the real MinIO: round trip, create-only under concurrent writers (single PUT and
// multipart), killed and aborted uploads leave nothing visible, a flipped bit is caught on load, the
// typed URL errors, and tfjs save/load through s3:// URLs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  CheckpointCorruptError,
  CheckpointExistsError,
  CheckpointIsPrefixError,
  CheckpointNotFoundError,
  NotACkptError,
} from '../../src/checkpoint/errors';
import { ObjectCheckpointIO } from '../../src/checkpoint/object-checkpoint-io';
import { ObjectRunFolder } from '../../src/checkpoint/run-folder';
import { registerS3IOHandlers } from '../../src/checkpoint/tfjs-io';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import type { MinioConnection } from '../../src/storage/minio-adapter';
import { largeState, normalisedTensors, sampleState } from '../helpers/checkpoint-fixtures';
import { testStack } from '../helpers/stack-env';

const connection: MinioConnection = {
  ...testStack().s3,
  bucket: `ckpt-store-${process.pid}-${Date.now() % 1e6}`,
};
const objects = createMinioObjectClient(connection);
const store = new ObjectCheckpointIO(objects);
const runs = new ObjectRunFolder(objects);
const MiB = 1024 * 1024;
const smallParts = { multipartThresholdBytes: 5 * MiB, partSizeBytes: 5 * MiB };
const url = (key: string) => `s3://${connection.bucket}/${key}`;

before(async () => {
  if (!(await objects.bucketExists())) await objects.makeBucket();
});

after(async () => {
  for (const o of await objects.list('')) await objects.remove(o.key);
});

describe('ObjectCheckpointIO on MinIO', () => {
  test('save, stat, list, load, remove', async () => {
    const first = await store.save(
      'round-trip',
      sampleState({ cursor: { epoch: 0, batch: 0, step: 10, batchesPerEpoch: 10 } }),
    );
    const second = await store.save('round-trip', sampleState());
    assert.equal(first.url, url('round-trip/epoch=0000-step=0000010.ckpt'));
    assert.match(second.sha256, /^[0-9a-f]{64}$/);
    const stat = await store.stat(second.url);
    assert.deepEqual([stat.bytes, stat.sha256], [second.bytes, second.sha256]);
    assert.deepEqual(
      (await runs.list('round-trip')).map((r) => [r.epoch, r.step]),
      [
        [0, 10],
        [1, 30],
      ],
    );
    const loaded = await store.load(second.url, { sha256: second.sha256, bytes: second.bytes });
    assert.deepEqual(normalisedTensors(loaded.tensors), normalisedTensors(sampleState().tensors));
    assert.deepEqual(loaded.meta, sampleState().meta);
    await store.remove(first.url);
    assert.equal((await runs.list('round-trip')).length, 1);
    await assert.rejects(store.load(first.url), CheckpointNotFoundError);
  });

  for (const [label, options, megabytes] of [
    ['single PUT', {}, 1],
    ['multipart', smallParts, 12],
  ] as const) {
    test(`concurrent writers of one key: exactly one wins, nobody overwrites (${label})`, async () => {
      const writers = Array.from(
        { length: 6 },
        () => new ObjectCheckpointIO(createMinioObjectClient(connection, options)),
      );
      const states = writers.map((_, i) => largeState(megabytes, i + 1));
      const results = await Promise.allSettled(
        writers.map((w, i) => w.save(`race-${megabytes}`, states[i]!)),
      );
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ saved: r.value, i }] : []));
      assert.equal(won.length, 1, `winners: ${won.length}`);
      for (const r of results)
        if (r.status === 'rejected') assert.ok(r.reason instanceof CheckpointExistsError, String(r.reason));
      const loaded = await store.load(won[0]!.saved.url, won[0]!.saved);
      assert.deepEqual(
        Buffer.from(loaded.tensors[0]!.data),
        Buffer.from(states[won[0]!.i]!.tensors[0]!.data),
      );
      await assert.rejects(store.save(`race-${megabytes}`, states[0]!), CheckpointExistsError);
    });
  }

  test('an upload whose stream fails midway leaves no object (single PUT and multipart)', async () => {
    for (const options of [{}, smallParts]) {
      const client = createMinioObjectClient(connection, options);
      const key = `aborted/${Object.keys(options).length ? 'multi' : 'single'}.ckpt`;
      let sent = 0;
      const body = new Readable({
        read() {
          sent += MiB;
          if (sent > 8 * MiB) this.destroy(new Error('writer crashed'));
          else this.push(Buffer.alloc(MiB, 1));
        },
      });
      await assert.rejects(
        client.put(key, body, { size: 16 * MiB, ifNoneMatch: true, sha256: 'a'.repeat(64) }),
      );
      assert.equal(await objects.stat(key), undefined);
    }
    assert.deepEqual(await objects.list('aborted/'), []);
  });

  test('a killed uploader process leaves no visible object (single PUT and multipart)', async () => {
    for (const threshold of [64 * MiB, 5 * MiB]) {
      const key = `killed/t${threshold}.ckpt`;
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'test/helpers/slow-upload-child.ts',
          JSON.stringify(connection),
          key,
          String(24 * MiB),
          String(threshold),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const exited = once(child, 'exit');
      await waitForLine(child.stdout, 'half-sent');
      await new Promise((r) => setTimeout(r, 500));
      child.kill('SIGKILL');
      await exited;
      assert.equal(await objects.stat(key), undefined);
      await assert.rejects(store.load(url(key)), CheckpointNotFoundError);
    }
  });

  test('a flipped bit in a stored object, a wrong expected hash or size are caught before decoding', async () => {
    const saved = await store.save('bitflip', sampleState());
    const bytes = await store.loadBytes(saved.url);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 3]! ^= 0x10;
    // Overwrite behind the store's back (a plain PUT), keeping the recorded hash in metadata.
    await objects.put(saved.key, flipped, { metadata: { sha256: saved.sha256 } });
    await assert.rejects(
      store.load(saved.url),
      (err: unknown) => err instanceof CheckpointCorruptError && err.kind === 'hash-mismatch',
    );
    const other = await store.save('bitflip-2', sampleState());
    await assert.rejects(store.load(other.url, { sha256: 'f'.repeat(64) }), /hash-mismatch/);
    await assert.rejects(store.load(other.url, { bytes: other.bytes + 1 }), /truncated/);
  });

  test('prefix, not-found and not-a-ckpt URLs give typed errors that say what to do', async () => {
    await store.save('prefixed', sampleState());
    const newest = await store.save(
      'prefixed',
      sampleState({ cursor: { epoch: 2, batch: 0, step: 60, batchesPerEpoch: 30 } }),
    );
    await assert.rejects(store.load(url('prefixed')), (err: unknown) => {
      assert.ok(err instanceof CheckpointIsPrefixError);
      assert.equal(err.count, 2);
      assert.equal(err.newest, newest.url);
      assert.match(
        err.message,
        /point at a \.ckpt file; found 2 checkpoints under that prefix, newest: s3:\/\//,
      );
      return true;
    });
    await assert.rejects(store.load(url('prefixed/')), CheckpointIsPrefixError);
    await assert.rejects(store.load(url('prefixed/epoch=0009-step=0000001.ckpt')), CheckpointNotFoundError);
    await assert.rejects(store.load(url('nothing-here')), CheckpointNotFoundError);
    await objects.put('plain/file.bin', Buffer.from('x'));
    await assert.rejects(store.load(url('plain/file.bin')), NotACkptError);
    await assert.rejects(store.load(`s3://other-bucket/x.ckpt`), /not the configured bucket/);
  });

  test('tf.io handlers: model.save and tf.loadLayersModel through s3:// URLs', async () => {
    await tf.setBackend('cpu');
    registerS3IOHandlers(store);
    const model = tfl.sequential({
      layers: [
        tfl.layers.dense({ inputShape: [3], units: 4, activation: 'relu' }),
        tfl.layers.dense({ units: 2 }),
      ],
    });
    const modelUrl = url('models/tiny.ckpt');
    await model.save(modelUrl);
    await assert.rejects(model.save(modelUrl), CheckpointExistsError);
    const loaded = await tfl.loadLayersModel(modelUrl);
    const input = tf.tensor2d([[1, 2, 3]]);
    const a = (model.predict(input) as tf.Tensor).dataSync();
    const b = (loaded.predict(input) as tf.Tensor).dataSync();
    assert.deepEqual(Array.from(b), Array.from(a));
    const header = await store.stat(modelUrl);
    assert.ok(header.sha256);
  });
});

async function waitForLine(stream: NodeJS.ReadableStream, line: string): Promise<void> {
  let seen = '';
  for await (const chunk of stream) {
    seen += String(chunk);
    if (seen.includes(line)) return;
  }
  throw new Error(`child exited before printing "${line}"`);
}
