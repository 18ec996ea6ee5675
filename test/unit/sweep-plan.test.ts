// The sweep plan driven by hand (no Temporal): ASHA's rung runs continue a promoted trial from its
// final .ckpt with the right epochs; PBT forks start from the source's checkpoint (forkedFrom) and
// the lineage records it; the best trial is the best that trained every epoch.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CheckpointRef, TrainingResult } from '../../src/contract';
import type { SweepInput, SweepState } from '../../src/contract/sweep';
import type { TrialJob } from '../../workflows/sweep-plan';
import { applyRun, bestTrial, decide, initialState, markStarted, nextJobs } from '../../workflows/sweep-plan';

const base: Omit<SweepInput, 'search'> = {
  task: 'synthetic',
  seed: 5,
  epochs: 3,
  trials: 4,
  metric: 'valLoss',
  mode: 'min',
  space: { learningRate: { kind: 'range', min: 0.001, max: 0.1, log: true } },
};

const ckpt = (run: string, epoch: number): CheckpointRef => ({
  url: `s3://b/${run}/epoch=${epoch}.ckpt`,
  sha256: `sha-${run}-${epoch}`,
  bytes: 1,
  epoch,
  batch: 0,
  step: epoch * 10,
});

/** Runs a job "to completion": epoch cursors from its start to its spec's epochs; metric = f(trial, epoch). */
function finish(
  input: SweepInput,
  state: SweepState,
  job: TrialJob,
  metric: (trial: string, e: number) => number,
) {
  markStarted(state, job);
  const epochs = [];
  for (let e = job.startCursor; e < (job.spec.epochs as number); e++)
    epochs.push({
      epoch: e,
      ckpt: ckpt(job.workflowId, e + 1),
      metrics: { valLoss: metric(job.trial, e) },
      weightsSha256: `w-${job.workflowId}-${e}`,
    });
  const result: TrainingResult = {
    status: 'completed',
    runName: job.workflowId,
    finalCheckpoint: ckpt(job.workflowId, job.spec.epochs as number),
    weightsSha256: epochs[epochs.length - 1]?.weightsSha256 ?? '',
    epochs,
    recoveries: [],
  };
  applyRun(input, state, job, result);
}

test('ASHA: rung runs of exactly the rung, promoted trials resume from their final .ckpt, the rest stop', () => {
  const input: SweepInput = { ...base, search: { kind: 'asha', reductionFactor: 2 } };
  const state = initialState(input);
  const quality: Record<string, number> = { t00: 0.4, t01: 0.1, t02: 0.3, t03: 0.2 };
  const metric = (t: string, e: number) => (quality[t] as number) / (e + 1);
  const rung0 = nextJobs(input, state, 's');
  assert.deepEqual(
    rung0.map((j) => [j.workflowId, j.spec.epochs, j.spec.resumeFrom]),
    [
      ['s-t00-r0', 1, undefined],
      ['s-t01-r0', 1, undefined],
      ['s-t02-r0', 1, undefined],
      ['s-t03-r0', 1, undefined],
    ],
  );
  for (const j of rung0) finish(input, state, j, metric);
  decide(input, state);
  assert.deepEqual(
    state.trials.map((t) => t.state),
    ['stopped', 'promoted', 'stopped', 'promoted'],
  );
  const rung1 = nextJobs(input, state, 's');
  assert.deepEqual(
    rung1.map((j) => [j.workflowId, j.spec.epochs, j.spec.resumeFrom]),
    [
      ['s-t01-r1', 2, 's3://b/s-t01-r0/epoch=1.ckpt'],
      ['s-t03-r1', 2, 's3://b/s-t03-r0/epoch=1.ckpt'],
    ],
  );
  for (const j of rung1) finish(input, state, j, metric);
  decide(input, state);
  const rung2 = nextJobs(input, state, 's');
  assert.deepEqual(
    rung2.map((j) => j.workflowId),
    ['s-t01-r2'],
  );
  for (const j of rung2) finish(input, state, j, metric);
  decide(input, state);
  assert.deepEqual(nextJobs(input, state, 's'), []);
  assert.equal(state.epochsTrained, 4 + 2 + 1);
  const t01 = state.trials[1];
  assert.equal(t01?.state, 'completed');
  assert.deepEqual(
    t01?.history.map(([e]) => e),
    [1, 2, 3],
  );
  assert.equal(bestTrial(input, state)?.trial, 't01');
  assert.equal(bestTrial(input, state)?.weightsSha256, 'w-s-t01-r2-2');
});

test('PBT: the bottom member forks the top one from its checkpoint; lineage and continuations', () => {
  const input: SweepInput = { ...base, search: { kind: 'pbt', interval: 1, quantile: 0.25 } };
  const state = initialState(input);
  const quality: Record<string, number> = { t00: 0.4, t01: 0.1, t02: 0.3, t03: 0.9 };
  const metric = (t: string) => quality[t] as number;
  for (const j of nextJobs(input, state, 's')) finish(input, state, j, metric);
  decide(input, state);
  assert.equal(state.lineage.length, 1);
  const [fork] = state.lineage;
  assert.deepEqual(
    [fork?.trial, fork?.from, fork?.ckpt, fork?.sha256],
    ['t03', 't01', 's3://b/s-t01-g0/epoch=1.ckpt', 'sha-s-t01-g0-1'],
  );
  assert.equal(state.trials[3]?.state, 'exploited');
  const gen1 = nextJobs(input, state, 's');
  const forked = gen1.find((j) => j.trial === 't03');
  assert.deepEqual(forked?.spec.forkedFrom, { workflowId: 's-t01-g0', ckpt: 's3://b/s-t01-g0/epoch=1.ckpt' });
  assert.equal(forked?.spec.resumeFrom, undefined);
  assert.equal(forked?.spec.epochs, 1);
  assert.deepEqual(forked?.spec.hparams, fork?.hparams);
  const cont = gen1.find((j) => j.trial === 't00');
  assert.equal(cont?.spec.resumeFrom, 's3://b/s-t00-g0/epoch=1.ckpt');
  assert.equal(cont?.spec.epochs, 2);
  assert.equal(state.trials[3]?.epochsDone, 1, 'a fork keeps the epochs its member trained');
});
