// Augmentation in a streamed task's transform draws only from the row's own seeded stream
// (src/data/sample-draw.ts): the same row in the same data epoch draws the same numbers whichever
// data-parallel shard reads it and wherever a resumed stream starts; another epoch or seed draws
// others; rows that draw nothing make no stream.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { DatasetStore } from '../../src/data/dataset-store';
import { importFiles } from '../../src/data/importer';
import { sampleDraw } from '../../src/data/sample-draw';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';
import { StreamedTrain } from '../../src/training/streamed-train';
import type { TaskData } from '../../src/training/tasks/types';

const ROWS = 64;
/** x = [the row's value, a jitter drawn for it]; y = [the row index the draw was made for]. */
const jittered: TaskData<never> = {
  dataset: () => 'rows',
  columns: ['v'],
  transform(row, x, y, draw) {
    assert.ok(draw, 'a training row gets a draw');
    x[0] = (row.v as Float32Array)[0] as number;
    x[1] = draw.random();
    y[0] = draw.row;
  },
  shuffleBuffer: 16,
};
const shapes = { inputShape: [2], labelShape: [1] };

async function rowsDataset() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dfit-draw-'));
  const file = path.join(dir, 'rows.csv');
  // The value of row i is i, so a sample names the dataset row it came from.
  await writeFile(file, 'v\n' + Array.from({ length: ROWS }, (_, i) => i).join('\n'));
  const store = new DatasetStore(createMemoryObjectClient());
  await importFiles(store, [file], { name: 'rows', shardSizeBytes: 16 * 4 });
  return { store, dataset: await store.resolve('rows') };
}

/** row value → the jitter drawn for it, over `batches` batches of 8 from `first` on. */
async function jitterOf(
  setup: Awaited<ReturnType<typeof rowsDataset>>,
  settings: { seed: number; shard?: { index: number; count: number } },
  epoch: number,
  first: number,
  batches: number,
): Promise<Map<number, number>> {
  const stream = new StreamedTrain(setup.store, setup.dataset, jittered, shapes, {
    batchSize: 8,
    windowBytes: 1e6,
    ...settings,
  });
  const seen = new Map<number, number>();
  for (let b = first; b < first + batches; b++) {
    const { x, y, rows } = await stream.batch(epoch, b);
    for (let r = 0; r < rows; r++) {
      assert.equal(y[r], x[2 * r], 'the draw is for the row being transformed');
      seen.set(x[2 * r] as number, x[2 * r + 1] as number);
    }
  }
  await stream.close();
  return seen;
}

test('a row draws the same in every shard and in a resumed stream; another epoch or seed draws others', async () => {
  const setup = await rowsDataset();
  const whole = await jitterOf(setup, { seed: 7 }, 3, 0, ROWS / 8);
  assert.equal(whole.size, ROWS);
  for (const [row, value] of whole) assert.equal(value, Math.fround(sampleDraw(7, 3, row).random()));

  // Two data-parallel shards read disjoint halves; every row draws what it drew in the whole.
  for (const index of [0, 1]) {
    const half = await jitterOf(setup, { seed: 7, shard: { index, count: 2 } }, 3, 0, ROWS / 16);
    for (const [row, value] of half) assert.equal(value, whole.get(row), `shard ${index}, row ${row}`);
  }
  // A stream opened at batch 5 (a resume mid-epoch) draws what the uninterrupted one did there.
  const resumed = await jitterOf(setup, { seed: 7 }, 3, 5, 3);
  assert.equal(resumed.size, 24);
  for (const [row, value] of resumed) assert.equal(value, whole.get(row), `resumed, row ${row}`);

  const nextEpoch = await jitterOf(setup, { seed: 7 }, 4, 0, ROWS / 8);
  const otherSeed = await jitterOf(setup, { seed: 8 }, 3, 0, ROWS / 8);
  const same = (m: Map<number, number>) => [...m].filter(([row, v]) => whole.get(row) === v).length;
  assert.equal(same(nextEpoch), 0, 'another data epoch draws other numbers');
  assert.equal(same(otherSeed), 0, 'another seed draws other numbers');
});

test('a draw is a stream: successive calls differ, and the same key repeats them', () => {
  const a = sampleDraw(1, 0, 5);
  const first = [a.random(), a.random(), a.random()];
  assert.equal(new Set(first).size, 3);
  for (const v of first) assert.ok(v >= 0 && v < 1);
  const b = sampleDraw(1, 0, 5);
  assert.deepEqual([b.random(), b.random(), b.random()], first);
  assert.deepEqual([b.epoch, b.row], [0, 5]);
});
