// PBT's exploit/explore: the bottom quantile forks the top one, perturbations stay in range and
// leave choices alone, and the same metrics and seed give the same forks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SweepInput } from '../../src/contract/sweep';
import { exploit, pbtGenerations, quantileCount } from '../../workflows/sweep-pbt';

const input: SweepInput = {
  task: 'mnist-mlp',
  seed: 3,
  epochs: 4,
  trials: 4,
  metric: 'valAccuracy',
  mode: 'max',
  search: { kind: 'pbt', interval: 1, quantile: 0.25, perturbFactors: [0.5, 2] },
  space: {
    learningRate: { kind: 'range', min: 1e-4, max: 1e-2, log: true },
    hidden: { kind: 'choice', values: [8, 16] },
  },
};

const members = [
  { id: 't00', metric: 0.5, hparams: { learningRate: 0.001, hidden: 8 }, hasCheckpoint: true },
  { id: 't01', metric: 0.9, hparams: { learningRate: 0.008, hidden: 16 }, hasCheckpoint: true },
  { id: 't02', metric: 0.2, hparams: { learningRate: 0.0002, hidden: 8 }, hasCheckpoint: true },
  { id: 't03', metric: 0.7, hparams: { learningRate: 0.003, hidden: 16 }, hasCheckpoint: true },
];

test('generations end every interval epochs, the last at epochs', () => {
  assert.deepEqual(pbtGenerations(input), [1, 2, 3, 4]);
  assert.deepEqual(pbtGenerations({ ...input, search: { kind: 'pbt', interval: 3 } }), [3, 4]);
});

test('the worst member forks the best: choices copied, the range perturbed by a factor, clamped', () => {
  const forks = exploit(members, input, 0);
  assert.equal(forks.length, 1);
  const [fork] = forks;
  assert.equal(fork?.target, 't02');
  assert.equal(fork?.source, 't01');
  assert.equal(fork?.hparams.hidden, 16);
  const lr = fork?.hparams.learningRate as number;
  assert.ok(lr === 0.004 || lr === 0.01, `0.008 × 0.5 or × 2 clamped to 0.01, got ${lr}`);
  assert.deepEqual(exploit(members, input, 0), forks, 'same metrics, same forks');
});

test('quantiles: at most half the population, none for one member; sources need a checkpoint', () => {
  assert.equal(quantileCount(1, 0.25), 0);
  assert.equal(quantileCount(4, 0.25), 1);
  assert.equal(quantileCount(10, 0.5), 5);
  const noCkpt = members.map((m) => ({ ...m, hasCheckpoint: m.id !== 't01' }));
  assert.equal(exploit(noCkpt, input, 0)[0]?.source, 't03');
});
