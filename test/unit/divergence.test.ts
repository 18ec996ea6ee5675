// Divergence detection in the trainer (src/training/divergence.ts) and skipped data windows in the
// session: the detector's decisions, its window surviving a checkpoint, and skips training nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSpec } from '../../src/spec';
import { DivergedError, DivergenceDetector, divergenceOf, isSkipped } from '../../src/training/divergence';
import { TrainerRemoteError } from '../../src/training/errors';
import { serializeError } from '../../src/training/protocol';
import { toError } from '../../src/training/trainer-process';
import { captureState } from '../../src/training/capture';
import { Trainer } from '../../src/training/trainer';
import { runSession } from '../../src/training/run-loop';
import { DIVERGED } from '../../src/contract';
import { poisonedBatch } from '../helpers/poisoned-task';

const policy = (d: object) =>
  parseSpec({ task: 'synthetic', epochs: 1, seed: 1, divergence: d }, 'r').divergence!;
const at = (step: number) => ({ epoch: 0, batch: step, step });

test('a NaN or infinite loss is a divergence (onNonFinite); without it, it is ignored', () => {
  const detector = new DivergenceDetector(policy({}));
  detector.check(0.5, at(0));
  assert.throws(
    () => detector.check(NaN, at(1)),
    (e: DivergedError) => e.divergence.step === 1,
  );
  assert.throws(() => detector.check(Infinity, at(2)), DivergedError);
  const off = new DivergenceDetector(policy({ onNonFinite: false }));
  off.check(NaN, at(1));
});

test('a spike: over factor × the median of the last window losses, once the window is full', () => {
  const detector = new DivergenceDetector(policy({ onNonFinite: false, spike: { factor: 3, window: 4 } }));
  [1, 1.1, 0.9, 1].forEach((l, i) => detector.check(l, at(i)));
  detector.check(2.9, at(4)); // under 3 × median 1
  assert.deepEqual(detector.window, [1.1, 0.9, 1, 2.9], 'the window slides');
  assert.throws(
    () => detector.check(3.2, at(5)),
    (e: DivergedError) => /over 3 × 1\.050/.test(e.message) && e.divergence.loss === 3.2,
  );
  const early = new DivergenceDetector(policy({ onNonFinite: false, spike: { factor: 3, window: 4 } }));
  early.check(1, at(0));
  early.check(100, at(1)); // a window not yet full decides nothing
});

test('a divergence survives the trainer process boundary with its step', () => {
  const err = new DivergedError({ epoch: 2, batch: 7, step: 107, loss: NaN, reason: 'loss is NaN' });
  assert.equal(err.name, DIVERGED, 'the contract names the same failure type');
  const remote = toError(serializeError(err));
  assert.ok(remote instanceof TrainerRemoteError);
  const carried = divergenceOf(remote);
  assert.equal(carried?.batch, 7);
  assert.equal(carried?.reason, 'loss is NaN');
  assert.equal(divergenceOf(remote)?.step, 107);
  assert.equal(divergenceOf(new Error('other')), undefined);
});

test('skip windows: the batches they cover move the cursor and train nothing', async () => {
  assert.equal(isSkipped([{ epoch: 0, fromBatch: 2, toBatch: 3 }], 0, 3), true);
  assert.equal(isSkipped([{ epoch: 0, fromBatch: 2, toBatch: 3 }], 1, 3), false);
  const trainer = await Trainer.create({ backend: 'cpu' });
  const config = { task: 'synthetic', seed: 3, batchSize: 8, epochs: 1, hparams: { samples: 64 } };
  const skipping = trainer.open({ ...config, skips: [{ epoch: 0, fromBatch: 2, toBatch: 3 }] });
  const results = Array.from({ length: 8 }, () => skipping.step());
  assert.deepEqual(
    results.map((r) => r.skipped ?? false),
    [false, false, true, true, false, false, false, false],
  );
  assert.ok(Number.isNaN(results[2]!.loss));
  assert.equal(skipping.cursor.step, 8);
  assert.ok(Number.isFinite(results[7]!.epochEnd!.loss), 'the epoch loss averages the trained batches');
  const plain = trainer.open(config);
  await runSession(plain);
  assert.notEqual(
    captureState(skipping).meta.weightsSha256,
    captureState(plain).meta.weightsSha256,
    'skipping data changes the weights',
  );
  skipping.dispose();
  plain.dispose();
});

test('the loss window is saved in the checkpoint and restored: a resumed run decides the same', async () => {
  const trainer = await Trainer.create({ backend: 'cpu' });
  const divergence = policy({ onNonFinite: true, spike: { factor: 50, window: 3 } });
  const config = {
    task: 'synthetic',
    seed: 3,
    batchSize: 8,
    epochs: 1,
    hparams: { samples: 64 },
    divergence,
  };
  const first = trainer.open(config);
  for (let i = 0; i < 5; i++) first.step();
  const state = captureState(first);
  assert.equal(state.meta.lossWindow?.length, 3);
  const resumed = trainer.open(config, state);
  assert.deepEqual(resumed.divergence?.window, first.divergence?.window);
  first.dispose();
  resumed.dispose();
});

test('a poisoned sample diverges exactly at the batch that holds it', async () => {
  await import('../helpers/poisoned-task');
  const trainer = await Trainer.create({ backend: 'cpu' });
  const hparams = { samples: 64, poisonRow: 5 };
  const session = trainer.open({
    task: 'poisoned-synthetic',
    seed: 4,
    batchSize: 8,
    epochs: 1,
    hparams,
    divergence: policy({}),
  });
  const batch = poisonedBatch(4, 0, 64, 8, 5);
  await assert.rejects(
    runSession(session),
    (e: DivergedError) => e.divergence.batch === batch && e.divergence.step === batch,
  );
  session.dispose();
});
