// Loads with the size and SHA-256 from the workflow record skip the `stat` round trip; the download
// itself must then catch every mismatch before a byte is decoded.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CheckpointCorruptError } from '../../src/checkpoint/errors';
import { ObjectCheckpointIO } from '../../src/checkpoint/object-checkpoint-io';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';
import { sampleState } from '../helpers/checkpoint-fixtures';

function setup() {
  const objects = createMemoryObjectClient('bucket');
  let stats = 0;
  const stat = objects.stat.bind(objects);
  objects.stat = (key) => {
    stats++;
    return stat(key);
  };
  return { objects, store: new ObjectCheckpointIO(objects), stats: () => stats };
}

const corrupt = (kind: string) => (err: unknown) =>
  err instanceof CheckpointCorruptError && err.kind === kind;

test('a load with expected size and SHA-256 spends no stat and returns the state', async () => {
  const { store, stats } = setup();
  const saved = await store.save('run', sampleState());
  const loaded = await store.load(saved.url, { sha256: saved.sha256.toUpperCase(), bytes: saved.bytes });
  assert.equal(loaded.meta.cursor.step, sampleState().meta.cursor.step);
  assert.equal(stats(), 0);
});

test('without a stat, a wrong expected size or hash, or a changed object, still fails before decoding', async () => {
  const { objects, store } = setup();
  const saved = await store.save('run', sampleState());
  await assert.rejects(
    store.load(saved.url, { sha256: saved.sha256, bytes: saved.bytes + 1 }),
    corrupt('truncated'),
  );
  await assert.rejects(
    store.load(saved.url, { sha256: saved.sha256, bytes: saved.bytes - 1 }),
    corrupt('size-mismatch'),
  );
  await assert.rejects(
    store.load(saved.url, { sha256: 'f'.repeat(64), bytes: saved.bytes }),
    corrupt('hash-mismatch'),
  );
  const stored = objects.objects.get(saved.key);
  assert.ok(stored);
  stored.body[stored.body.length - 1]! ^= 0x01;
  await assert.rejects(
    store.load(saved.url, { sha256: saved.sha256, bytes: saved.bytes }),
    corrupt('hash-mismatch'),
  );
});

test('a prefix URL with expected integrity still gets the stat path and its typed error', async () => {
  const { store } = setup();
  const saved = await store.save('run', sampleState());
  await assert.rejects(
    store.load('s3://bucket/run/', { sha256: saved.sha256, bytes: saved.bytes }),
    /prefix|\.ckpt/,
  );
});
