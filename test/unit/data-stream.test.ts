// Streaming a dataset (src/data/order.ts, stream.ts): the order of epoch e comes from (seed, e) only,
// a bounded window of shards, a resume at position p reads only the shards it still needs and the
// same rows as an uninterrupted pass, and data-parallel slices partition the same order.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { DatasetStore } from '../../src/data/dataset-store';
import { importFiles } from '../../src/data/importer';
import { shardOffsets, shardOfRow, sliceOrder, streamOrder } from '../../src/data/order';
import { ShardWindow } from '../../src/data/stream';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';

const ROWS = 200;

/** 200 rows, row i = (i, label i % 10), in shards of 16 rows (8 bytes a row). */
async function dataset() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dfit-stream-test-'));
  const file = path.join(dir, 'd.csv');
  await writeFile(file, 'v,label\n' + Array.from({ length: ROWS }, (_, i) => `${i},${i % 10}`).join('\n'));
  const store = new DatasetStore(createMemoryObjectClient());
  await importFiles(store, [file], { name: 'd', labelColumn: 'label', shardSizeBytes: 16 * 8 });
  return { store, resolved: await store.resolve('d') };
}

async function readAll(window: ShardWindow, order: Uint32Array, batch: number, start = 0) {
  const values: number[] = [];
  for await (const b of window.batches(order, batch, start)) values.push(...(b.columns.get('v') ?? []));
  return values;
}

describe('dataset order', () => {
  const rows = [16, 16, 16, 5, 16];

  test('is a permutation, fixed by (seed, epoch), new each epoch', () => {
    const a = streamOrder(rows, { seed: 7, epoch: 0, bufferSize: 20 });
    assert.deepEqual(
      [...a].sort((x, y) => x - y),
      Array.from({ length: 69 }, (_, i) => i),
    );
    assert.deepEqual(streamOrder(rows, { seed: 7, epoch: 0, bufferSize: 20 }), a);
    assert.notDeepEqual(streamOrder(rows, { seed: 7, epoch: 1, bufferSize: 20 }), a);
    assert.notDeepEqual(streamOrder(rows, { seed: 8, epoch: 0, bufferSize: 20 }), a);
  });

  test('data-parallel slices partition the same order, whatever the count', () => {
    const order = streamOrder(rows, { seed: 3, epoch: 2, bufferSize: 8 });
    for (const count of [1, 2, 3]) {
      const slices = Array.from({ length: count }, (_, s) => sliceOrder(order, s, count));
      const m = Math.floor(order.length / count);
      for (let j = 0; j < m; j++)
        for (let s = 0; s < count; s++) assert.equal(slices[s]?.[j], order[j * count + s]);
    }
  });

  test('rows map to their shard', () => {
    const offsets = shardOffsets(rows);
    assert.deepEqual(
      [0, 15, 16, 47, 48, 52, 53, 68].map((r) => shardOfRow(offsets, r)),
      [0, 0, 1, 2, 3, 3, 4, 4],
    );
  });
});

describe('shard window', () => {
  test('delivers every row of the order, holding a bounded window', async () => {
    const { store, resolved } = await dataset();
    const order = streamOrder(
      resolved.manifest.shards.map((s) => s.rows),
      { seed: 1, epoch: 0, bufferSize: 8 },
    );
    // 3 shards of 16 rows × 8 bytes.
    const window = new ShardWindow(store, resolved, { windowBytes: 3 * 16 * 8 });
    const values = await readAll(window, order, 10);
    assert.deepEqual(values, [...order]);
    assert.equal(window.stats.fetched.length, resolved.manifest.shards.length, 'each shard fetched once');
    assert.ok(window.stats.peakBytes <= 3 * 16 * 8, `peak ${window.stats.peakBytes} bytes`);
  });

  test('a shuffle buffer wider than a shard: rows left in it are kept, not their whole shards', async () => {
    const { store, resolved } = await dataset();
    const rows = resolved.manifest.shards.map((s) => s.rows);
    const order = streamOrder(rows, { seed: 3, epoch: 0, bufferSize: 48 }); // 3 shards of rows
    const window = new ShardWindow(store, resolved, { windowBytes: 4 * 16 * 8 });
    assert.deepEqual(await readAll(window, order, 8), [...order]);
    assert.equal(window.stats.fetched.length, rows.length, 'each shard fetched once');
    // Holding whole shards until their last row went by peaks at 1,344 bytes (10.5 shards) here.
    assert.ok(window.stats.peakBytes <= 6 * 16 * 8, `peak ${window.stats.peakBytes} bytes`);
  });

  test('a resume mid-epoch reads the same rows and only the shards it still needs', async () => {
    const { store, resolved } = await dataset();
    const order = streamOrder(
      resolved.manifest.shards.map((s) => s.rows),
      { seed: 5, epoch: 3, bufferSize: 4 },
    );
    const full = await readAll(new ShardWindow(store, resolved, { windowBytes: 256 }), order, 10);
    const resumeAt = 150;
    const window = new ShardWindow(store, resolved, { windowBytes: 256 });
    const rest = await readAll(window, order, 10, resumeAt);
    assert.deepEqual(rest, full.slice(resumeAt));
    const offsets = shardOffsets(resolved.manifest.shards.map((s) => s.rows));
    const needed = new Set([...order.subarray(resumeAt)].map((r) => shardOfRow(offsets, r)));
    assert.ok(needed.size < resolved.manifest.shards.length, 'the test resumes past some shards');
    assert.deepEqual(new Set(window.stats.fetched), needed);
  });

  test('a column the dataset lacks is refused naming the ones it has', async () => {
    const { store, resolved } = await dataset();
    assert.throws(
      () => new ShardWindow(store, resolved, { columns: ['pixels'] }),
      /no column "pixels" \(it has v, label\)/,
    );
  });
});
