/**
 * The data order of data-parallel shards (src/training/shard-order.ts): disjoint slices that cover
 * all but the N mod K tail of each epoch's order, equal batch counts, and the round count.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { epochOrder } from '../../src/training/rng';
import {
  parallelRounds,
  shardBatchesPerEpoch,
  shardBatchRows,
  shardPosition,
  shardProblem,
} from '../../src/training/shard-order';

test('shards of one data epoch are disjoint and cover all but the N mod K tail of its order', () => {
  const order = epochOrder(3, 0, 100);
  const k = 3;
  const batchSize = 7;
  const batches = shardBatchesPerEpoch(100, k, batchSize);
  assert.equal(batches, 5); // floor(100/3) = 33 samples, ceil(33/7) = 5 batches
  const seen: number[] = [];
  for (let s = 0; s < k; s++) {
    let count = 0;
    for (let b = 0; b < batches; b++) {
      const rows = [...shardBatchRows(order, { index: s, count: k }, batchSize, b)];
      assert.ok(rows.length > 0 && rows.length <= batchSize);
      count += rows.length;
      seen.push(...rows);
    }
    assert.equal(count, 33, `shard ${s} trains floor(N/K) samples`);
  }
  assert.equal(new Set(seen).size, 99, 'no sample is trained by two shards');
  assert.deepEqual(new Set(seen), new Set(order.subarray(0, 99)), 'the tail of the order sits out');
});

test('shard s takes positions s, s+K, s+2K, … of the order, in order', () => {
  const order = Uint32Array.from([10, 11, 12, 13, 14, 15, 16, 17, 18]);
  assert.deepEqual([...shardBatchRows(order, { index: 1, count: 3 }, 2, 0)], [11, 14]);
  assert.deepEqual([...shardBatchRows(order, { index: 1, count: 3 }, 2, 1)], [17]);
  assert.deepEqual([...shardBatchRows(order, { index: 0, count: 1 }, 4, 2)], [18]);
});

test('a shard step maps to a data epoch and batch; rounds cover every epoch', () => {
  assert.deepEqual(shardPosition(0, 4), { dataEpoch: 0, batch: 0 });
  assert.deepEqual(shardPosition(9, 4), { dataEpoch: 2, batch: 1 });
  assert.equal(parallelRounds(20, 4, 20), 4);
  assert.equal(parallelRounds(3, 4, 5), 3, 'the last round may run past the last epoch');
});

test('shard settings a session cannot train are refused with the reason', () => {
  assert.equal(shardProblem({ index: 0, count: 2, steps: 1 }, 10), undefined);
  assert.match(shardProblem({ index: 2, count: 2, steps: 1 }, 10) ?? '', /not in \[0, 2\)/);
  assert.match(shardProblem({ index: 0, count: 4, steps: 1 }, 3) ?? '', /at least 4 training samples/);
  assert.match(shardProblem({ index: 0, count: 2, steps: 0 }, 10) ?? '', /steps per round/);
});
