// Sweep search: a seeded random search draws the same trials for the same seed (and others for
// another), values stay inside their (log-)ranges, a grid is the full product, and ranking is stable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SweepInput } from '../../src/contract/sweep';
import { sweepInputProblems } from '../../src/contract/sweep';
import { createRandom, drawValue, gridPoints, planTrials, rankTrials } from '../../workflows/sweep-search';

const input = (extra: Partial<SweepInput> = {}): SweepInput => ({
  task: 'synthetic',
  seed: 7,
  epochs: 3,
  trials: 6,
  metric: 'valLoss',
  mode: 'min',
  search: { kind: 'random' },
  space: {
    learningRate: { kind: 'range', min: 1e-4, max: 1e-2, log: true },
    hidden: { kind: 'choice', values: [4, 8, 16] },
    dropout: { kind: 'range', min: 0.1, max: 0.5 },
  },
  ...extra,
});

test('random: the same seed gives the same trials; another seed other trials', () => {
  const a = planTrials(input());
  assert.equal(a.length, 6);
  assert.deepEqual(planTrials(input()), a);
  assert.notDeepEqual(planTrials(input({ seed: 8 })), a);
  assert.equal(new Set(a.map((h) => JSON.stringify(h))).size, 6, 'six distinct trials');
});

test('random: values stay in their ranges, log ranges cover their decades, choices come from the list', () => {
  const many = planTrials(input({ trials: 200 }));
  const lrs = many.map((h) => h.learningRate as number);
  assert.ok(lrs.every((lr) => lr >= 1e-4 && lr <= 1e-2));
  assert.ok(lrs.some((lr) => lr < 1e-3) && lrs.some((lr) => lr > 1e-3), 'both decades drawn');
  assert.ok(many.every((h) => [4, 8, 16].includes(h.hidden as number)));
  assert.deepEqual(new Set(many.map((h) => h.hidden)), new Set([4, 8, 16]));
  assert.ok(many.every((h) => (h.dropout as number) >= 0.1 && (h.dropout as number) <= 0.5));
});

test('draws: integer ranges round, u at the ends gives the bounds', () => {
  assert.equal(drawValue({ kind: 'range', min: 1, max: 5, integer: true }, 0.49), 3);
  assert.equal(drawValue({ kind: 'range', min: 1e-4, max: 1e-2, log: true }, 0), 1e-4);
  assert.equal(drawValue({ kind: 'choice', values: ['a', 'b'] }, 0.999999), 'b');
  const r = createRandom('k');
  const xs = Array.from({ length: 1000 }, r);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
});

test('grid: every combination, first hparam slowest', () => {
  const points = gridPoints({
    a: { kind: 'choice', values: [1, 2] },
    b: { kind: 'choice', values: ['x', 'y', 'z'] },
  });
  assert.equal(points.length, 6);
  assert.deepEqual(points[0], { a: 1, b: 'x' });
  assert.deepEqual(points[5], { a: 2, b: 'z' });
});

test('ranking: min and max modes, missing metrics last, ties keep trial order', () => {
  const trials = [{ id: 0, metric: 0.5 }, { id: 1 }, { id: 2, metric: 0.2 }, { id: 3, metric: 0.5 }];
  assert.deepEqual(
    rankTrials(trials, 'min').map((t) => t.id),
    [2, 0, 3, 1],
  );
  assert.deepEqual(
    rankTrials(trials, 'max').map((t) => t.id),
    [0, 3, 2, 1],
  );
});

test('input checks say what to fix', () => {
  assert.deepEqual(sweepInputProblems(input()), []);
  const grid = sweepInputProblems(input({ search: { kind: 'grid' } }));
  assert.ok(grid.some((p) => /grid search needs choices/.test(p)));
  const bad = sweepInputProblems(input({ trials: 0, mode: 'up' as 'min', space: {} }));
  assert.ok(bad.some((p) => p.startsWith('trials')));
  assert.ok(bad.some((p) => p.startsWith('mode')));
  assert.ok(bad.some((p) => p.startsWith('space')));
  const rungs = sweepInputProblems(input({ search: { kind: 'asha', rungs: [1, 2] } }));
  assert.ok(rungs.some((p) => /last rung must equal epochs/.test(p)));
});
