// `durable-fit sweep`: --space flags parse to choices, ranges, log and integer ranges (bad ones say
// how to write them), and `sweep status` renders the trial table, the metric plot and the lineage.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SweepProgress } from '../../src/contract/sweep';
import { renderSweep } from '../../src/sweep/render';
import { parseSpace } from '../../src/sweep/space-flags';
import { sweepInputFromFlags } from '../../src/cli/sweep-command';

test('--space: choices, ranges, log and int ranges', () => {
  assert.deepEqual(
    parseSpace([
      'hidden=64,128,256',
      'x=0.1..0.5',
      'learningRate=log:1e-4..1e-2',
      'u=int:8..64',
      'opt=adam,sgd',
    ]),
    {
      hidden: { kind: 'choice', values: [64, 128, 256] },
      x: { kind: 'range', min: 0.1, max: 0.5 },
      learningRate: { kind: 'range', min: 1e-4, max: 1e-2, log: true },
      u: { kind: 'range', min: 8, max: 64, integer: true },
      opt: { kind: 'choice', values: ['adam', 'sgd'] },
    },
  );
  assert.throws(() => parseSpace(['lr']), /name=choices or name=min\.\.max/);
  assert.throws(() => parseSpace(['lr=log:0..1']), /log range needs min > 0/);
  assert.throws(() => parseSpace(['lr=0.5..0.1']), /min <= max/);
  assert.throws(() => parseSpace(['a=1,2', 'a=3']), /given twice/);
});

test('sweep start flags: the issue’s example becomes an ASHA input; an accuracy metric is maximised', () => {
  const flags = {
    task: 'mnist-mlp',
    search: 'asha' as const,
    space: ['learningRate=log:1e-4..1e-2', 'hidden=64,128,256'],
    trials: 8,
    epochs: 3,
    seed: 1,
    concurrency: 2,
    metric: 'valLoss',
    hparam: {},
  };
  const input = sweepInputFromFlags(flags);
  assert.deepEqual(input.search, { kind: 'asha' });
  assert.equal(input.mode, 'min');
  assert.equal(input.concurrency, 2);
  assert.equal(sweepInputFromFlags({ ...flags, metric: 'valAccuracy' }).mode, 'max');
});

test('sweep status: table, plot and lineage', () => {
  const ckpt = {
    url: 's3://b/s-t01-g1-x/epoch=0001-step=0000010.ckpt',
    sha256: 'a',
    bytes: 1,
    epoch: 1,
    batch: 0,
    step: 10,
  };
  const p: SweepProgress = {
    status: 'completed',
    search: 'pbt',
    metric: 'valAccuracy',
    mode: 'max',
    phase: 2,
    epochsTrained: 4,
    decisions: [],
    trials: [
      {
        id: 't00',
        hparams: { learningRate: 0.001 },
        state: 'completed',
        epochsDone: 2,
        metric: 0.5,
        history: [
          [1, 0.4],
          [2, 0.5],
        ],
        runs: [],
      },
      {
        id: 't01',
        hparams: { learningRate: 0.0012345 },
        state: 'completed',
        epochsDone: 2,
        metric: 0.9,
        history: [
          [1, 0.8],
          [2, 0.9],
        ],
        runs: [],
        lastCheckpoint: ckpt,
      },
    ],
    lineage: [
      {
        generation: 0,
        trial: 't00',
        from: 't01',
        ckpt: ckpt.url,
        sha256: 'a',
        hparams: { learningRate: 0.001 },
        metric: 0.4,
        fromMetric: 0.8,
      },
    ],
    best: { trial: 't01', hparams: { learningRate: 0.0012345 }, metric: 0.9, finalCheckpoint: ckpt },
  };
  const text = renderSweep(p);
  assert.match(text, /trial\s+learningRate\s+epochs\s+valAccuracy\s+state/);
  assert.match(text, /t01 \*\s+0\.001234?5?\s+2\s+0\.9\s+completed/);
  assert.match(text, /t00\s+0\.001\s+2\s+0\.5\s+completed, exploited ×1 \(last from t01\)/);
  assert.match(text, /t00 ▁▂\s+0\.5/);
  assert.match(text, /t01 ▇█\s+0\.9/);
  assert.match(text, /gen 0: t00 ← t01/);
  assert.ok(text.endsWith(ckpt.url));
});
