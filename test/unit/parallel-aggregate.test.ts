/**
 * The outer step of data-parallel rounds (src/training/aggregate.ts) on hand-made states: the float32
 * mean in shard order, Nesterov momentum kept as `outer/…` tensors, and a shard's round start.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NamedTensor, TrainingState } from '../../src/state';
import { aggregateStates, composeShardStart } from '../../src/training/aggregate';
import { computeWeightsSha256 } from '../../src/training/weights-hash';

function tensor(name: string, values: number[]): NamedTensor {
  const data = Float32Array.from(values);
  return { name, dtype: 'F32', shape: [values.length], data: new Uint8Array(data.buffer) };
}

function state(weights: number[], slot: number[] = [0, 0], step = 0): TrainingState {
  const tensors = [tensor('model/d/kernel', weights), tensor('optimizer/d/kernel/m', slot)];
  const meta = { cursor: { epoch: 1, batch: 0, step, batchesPerEpoch: 4 }, weightsSha256: '' };
  return { tensors, meta: meta as unknown as TrainingState['meta'] };
}

function values(s: TrainingState, name: string): number[] {
  const t = s.tensors.find((x) => x.name === name);
  assert.ok(t, `has ${name}`);
  return [...new Float32Array(Uint8Array.from(t.data).buffer)];
}

const average = { optimizer: 'average' as const, lr: 0.7, momentum: 0.9 };

test('average: the float32 mean of the shards, summed in shard order; other tensors are shard 0’s', () => {
  const shards = [state([0.1, 1], [5, 5], 40), state([0.2, 2], [6, 6], 40), state([0.4, 4], [7, 7], 40)];
  const next = aggregateStates(state([0, 0]), shards, average);
  const f = Math.fround;
  const expected = f(f(f(f(0.1) + f(0.2)) + f(0.4)) / 3);
  assert.deepEqual(values(next, 'model/d/kernel'), [expected, f(7 / 3)]);
  assert.deepEqual(values(next, 'optimizer/d/kernel/m'), [5, 5]);
  assert.equal(next.meta.cursor.step, 40);
  assert.equal(next.meta.weightsSha256, computeWeightsSha256(next.tensors));
});

test('nesterov: momentum on the mean delta, kept in the global checkpoint for the next round', () => {
  const outer = { optimizer: 'nesterov' as const, lr: 0.5, momentum: 0.5 };
  const first = aggregateStates(state([1, 1]), [state([0, 2]), state([0, 2])], outer);
  // delta = g - mean = [1, -1]; v = [1, -1]; g' = g - 0.5 * (delta + 0.5 v) = [0.25, 1.75]
  assert.deepEqual(values(first, 'model/d/kernel'), [0.25, 1.75]);
  assert.deepEqual(values(first, 'outer/d/kernel/momentum'), [1, -1]);
  const second = aggregateStates(first, [state([0.25, 1.75]), state([0.25, 1.75])], outer);
  // delta = 0; v = 0.5 v = [0.5, -0.5]; g' = g - 0.5 * 0.25 v... = g - 0.5 * (0 + 0.5 * v')
  assert.deepEqual(values(second, 'outer/d/kernel/momentum'), [0.5, -0.5]);
  assert.deepEqual(values(second, 'model/d/kernel'), [0.125, 1.875]);
  assert.equal(
    second.tensors.filter((t) => t.name.startsWith('outer/')).length,
    1,
    'one momentum per weight',
  );
});

test('a shard starts a round with its own optimizer state and the global weights', () => {
  const start = composeShardStart(state([9, 9], [3, 4], 20), state([1, 2], [0, 0], 20));
  assert.deepEqual(values(start, 'model/d/kernel'), [1, 2]);
  assert.deepEqual(values(start, 'optimizer/d/kernel/m'), [3, 4]);
  assert.equal(start.meta.weightsSha256, computeWeightsSha256(start.tensors));
  assert.throws(
    () => composeShardStart(state([9, 9]), state([1, 2, 3])),
    /no weight model\/d\/kernel of this shape/,
  );
});
