// ASHA's decisions: rungs from the reduction factor, the best 1/factor promoted (failed trials
// never), ties to the lower trial, and the budget below a full grid's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SweepInput } from '../../src/contract/sweep';
import { ashaBudget, ashaRungs, promote, promotedCount } from '../../workflows/sweep-asha';

const input = (search: SweepInput['search'], epochs = 9): SweepInput => ({
  task: 'synthetic',
  seed: 1,
  epochs,
  trials: 8,
  metric: 'valLoss',
  mode: 'min',
  search,
  space: { learningRate: { kind: 'range', min: 0.001, max: 0.1 } },
});

test('rungs: minEpochs × factor^k below epochs, then epochs; given rungs as they are', () => {
  assert.deepEqual(ashaRungs(input({ kind: 'asha' })), [1, 3, 9]);
  assert.deepEqual(ashaRungs(input({ kind: 'asha', reductionFactor: 2 }, 3)), [1, 2, 3]);
  assert.deepEqual(ashaRungs(input({ kind: 'asha', reductionFactor: 2, minEpochs: 2 }, 10)), [2, 4, 8, 10]);
  assert.deepEqual(ashaRungs(input({ kind: 'asha', rungs: [1, 5, 9] })), [1, 5, 9]);
});

test('promote: best 1/factor by metric (at least one), failed trials never, ties to the lower index', () => {
  const rung = [
    { id: 't0', metric: 0.4 },
    { id: 't1', metric: 0.1 },
    { id: 't2' },
    { id: 't3', metric: 0.4 },
    { id: 't4', metric: 0.3 },
    { id: 't5', metric: 0.9 },
  ];
  assert.deepEqual(
    promote(rung, 2, 'min').map((t) => t.id),
    ['t1', 't4', 't0'],
  );
  assert.deepEqual(
    promote(rung, 3, 'max').map((t) => t.id),
    ['t5', 't0'],
  );
  assert.equal(promotedCount(2, 3), 1);
  assert.deepEqual(promote([{ id: 'only' }], 2, 'min'), []);
});

test('budget: 8 trials on rungs 1,2,3 with factor 2 train 14 epochs, not the grid’s 24', () => {
  assert.equal(ashaBudget(8, [1, 2, 3], 2), 8 + 4 + 2);
  assert.ok(ashaBudget(8, [1, 2, 3], 2) < 8 * 3);
});
