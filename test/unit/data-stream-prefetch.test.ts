// Streamed batches off the training loop's critical path: once an epoch's window has fetched all
// its shards, the next data epoch's first shards are fetched before that epoch's first batch is
// asked for (and its batches are those of a fresh reader); shards are decoded in a worker thread,
// and a shard that is not Parquet fails naming it while the thread goes on decoding the next.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, test } from 'node:test';
import { decodeShardOffThread } from '../../src/data/decode-thread';
import { DatasetStore } from '../../src/data/dataset-store';
import type { ResolvedDataset } from '../../src/data/dataset-store';
import type { ColumnSpec, DatasetManifest } from '../../src/data/manifest';
import { MANIFEST_FORMAT } from '../../src/data/manifest';
import { shardOffsets, shardOfRow, streamOrder } from '../../src/data/order';
import { encodeShard } from '../../src/data/shard-codec';
import { ShardWindow } from '../../src/data/stream';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';
import { StreamedTrain } from '../../src/training/streamed-train';
import type { TaskData } from '../../src/training/tasks/types';

const SHARD_ROWS = 20;
const SHARDS = 5;
const columns: ColumnSpec[] = [{ name: 'v', dtype: 'float32', shape: [2] }];
const data: TaskData<never> = {
  dataset: () => 'rows',
  columns: ['v'],
  transform: (row, x) => x.set(row.v as Float32Array),
  shuffleBuffer: 8,
};
const shapes = { inputShape: [2], labelShape: [1] };
const settings = { seed: 3, batchSize: 8, windowBytes: 1e6 };

const shard = (i: number) =>
  Buffer.from(
    encodeShard(columns, {
      rows: SHARD_ROWS,
      columns: new Map([['v', Float32Array.from({ length: 2 * SHARD_ROWS }, (_, k) => i * 100 + k / 2)]]),
    }),
  );
let store: DatasetStore;
let dataset: ResolvedDataset;
/** Shards read from the store, in order. */
const reads: number[] = [];

before(async () => {
  store = new DatasetStore(createMemoryObjectClient());
  const shards = Array.from({ length: SHARDS }, (_, i) => {
    const bytes = shard(i);
    const file = `shard-${String(i).padStart(5, '0')}.parquet`;
    return {
      file,
      rows: SHARD_ROWS,
      bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    };
  });
  const manifest: DatasetManifest = {
    format: MANIFEST_FORMAT,
    name: 'rows',
    columns,
    rows: SHARDS * SHARD_ROWS,
    shards,
  };
  await store.publish(manifest, (i) => Promise.resolve(shard(i)));
  dataset = await store.resolve('rows');
  const readShard = store.readShard.bind(store);
  store.readShard = (d, index) => {
    reads.push(index);
    return readShard(d, index);
  };
});

async function epoch(stream: StreamedTrain, dataEpoch: number): Promise<number[]> {
  const values: number[] = [];
  for (let b = 0; b * settings.batchSize < SHARDS * SHARD_ROWS; b++)
    values.push(...(await stream.batch(dataEpoch, b)).x);
  return values;
}

test("the next epoch's first shards are fetched before its first batch is asked for", async () => {
  const stream = new StreamedTrain(store, dataset, data, shapes, settings);
  reads.length = 0;
  const first = await epoch(stream, 0);
  const rows = Array.from({ length: SHARDS }, () => SHARD_ROWS);
  const next = streamOrder(rows, { seed: 3, epoch: 1, bufferSize: 8 });
  // The upcoming window loads the shards of its first two shuffle buffers (16 rows).
  const offsets = shardOffsets(rows);
  const early = [...new Set([...next.subarray(0, 16)].map((row) => shardOfRow(offsets, row)))];
  assert.ok(early.length >= 1 && early.length < SHARDS, `${early}`);
  assert.deepEqual(
    reads.slice(SHARDS),
    early,
    `epoch 0 read every shard once, then epoch 1's first: ${reads}`,
  );
  const second = await epoch(stream, 1);
  await stream.close();
  assert.equal(stream.windows.length, 2, 'a window per epoch trained (the upcoming one is not counted)');

  const fresh = new StreamedTrain(store, dataset, data, shapes, settings);
  assert.deepEqual(await epoch(fresh, 0), first);
  assert.deepEqual(await epoch(fresh, 1), second, "the prefetched epoch's batches are a fresh reader's");
  // A jump elsewhere drops the upcoming window and reads from the position asked for.
  assert.deepEqual([...(await fresh.batch(0, 3)).x], first.slice(3 * 8 * 2, 4 * 8 * 2));
  await fresh.close();
});

test('a window prefetches only shards first used before prefetchBefore, beyond the batch being built', async () => {
  const window = new ShardWindow(store, dataset, { windowBytes: 1e6 });
  window.prefetchBefore = 30; // shards 0 and 1 (rows 0-39)
  reads.length = 0;
  const order = Uint32Array.from({ length: SHARDS * SHARD_ROWS }, (_, i) => i);
  const batches = window.batches(order, 8);
  await batches.next();
  assert.deepEqual(reads, [0, 1]);
  assert.equal(window.fetchedAll, false);
  window.prefetchBefore = Infinity;
  await batches.next();
  assert.deepEqual(reads, [0, 1, 2, 3, 4]);
  assert.equal(window.fetchedAll, true);
  await batches.return(undefined);
});

test('the decoding thread names a shard that is not Parquet and goes on decoding', async () => {
  await assert.rejects(
    decodeShardOffThread(Buffer.from('not parquet'), columns, 'dataset rows shard-x'),
    (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.match(err.message, /^dataset rows shard-x: .*parquet/i);
      return true;
    },
  );
  const decoded = await decodeShardOffThread(shard(2), columns, 'dataset rows shard-00002');
  assert.equal(decoded.rows, SHARD_ROWS);
  assert.deepEqual([...(decoded.columns.get('v') as Float32Array).subarray(0, 4)], [200, 200.5, 201, 201.5]);
});
