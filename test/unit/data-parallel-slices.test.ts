// Data-parallel shards of a streamed run (src/training/streamed-train.ts): shard s of K reads
// positions s, s + K, … of the one global order of (seed, epoch), whatever K; the slices are
// disjoint and together hold all but the N mod K tail.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { DatasetStore } from '../../src/data/dataset-store';
import { importFiles } from '../../src/data/importer';
import { streamOrder } from '../../src/data/order';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';
import { StreamedTrain } from '../../src/training/streamed-train';
import type { TaskData } from '../../src/training/tasks/types';

const ROWS = 101;
const data: TaskData<never> = {
  dataset: () => 'rows',
  columns: ['v'],
  transform: (row, x) => x.set(row.v as Float32Array),
  shuffleBuffer: 16,
};

test('shard s of K reads its slice of the one global order', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dfit-dp-'));
  const file = path.join(dir, 'rows.csv');
  await writeFile(file, 'v\n' + Array.from({ length: ROWS }, (_, i) => i).join('\n'));
  const store = new DatasetStore(createMemoryObjectClient());
  await importFiles(store, [file], { name: 'rows', shardSizeBytes: 20 * 4 });
  const dataset = await store.resolve('rows');
  const shapes = { inputShape: [1], labelShape: [1] };
  const order = streamOrder(
    dataset.manifest.shards.map((s) => s.rows),
    { seed: 4, epoch: 2, bufferSize: 16 },
  );
  for (const count of [1, 2, 3]) {
    const seen: number[][] = [];
    for (let index = 0; index < count; index++) {
      const settings = { seed: 4, batchSize: 8, windowBytes: 1e6, shard: { index, count } };
      const stream = new StreamedTrain(store, dataset, data, shapes, settings);
      const m = Math.floor(ROWS / count);
      const values: number[] = [];
      for (let b = 0; b * 8 < m; b++) values.push(...(await stream.batch(2, b)).x);
      await stream.close();
      assert.deepEqual(
        values,
        Array.from({ length: m }, (_, j) => order[j * count + index]),
      );
      seen.push(values);
    }
    const all = seen.flat();
    assert.equal(new Set(all).size, all.length, `K=${count}: slices are disjoint`);
    assert.equal(all.length, ROWS - (ROWS % count));
  }
});
