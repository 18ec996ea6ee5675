// The workflow's rollback decision (workflows/decide.ts rollBack): which checkpoint, which data window,
// which checkpoints become another lineage, and the rollback budget.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CheckpointRef, RunRecord } from '../../src/contract';
import type { FailureClass } from '../../workflows/recovery';
import { parseSpec } from '../../src/spec';
import { decideRecovery } from '../../workflows/decide';
import { newLedger } from '../../workflows/goodput';

const ckpt = (step: number): CheckpointRef => ({
  url: `s3://b/run/epoch=0000-step=${String(step).padStart(7, '0')}.ckpt`,
  sha256: 'x',
  bytes: 1,
  epoch: Math.floor(step / 100),
  batch: step % 100,
  step,
});

const record = (divergence: object, steps = [0, 20, 40, 60]): RunRecord => ({
  spec: parseSpec({ task: 'synthetic', epochs: 2, seed: 1, batchSize: 10, divergence }, 'r'),
  checkpoints: steps.map(ckpt),
  epochs: [],
  recoveries: [],
  unusable: [],
  position: ckpt(steps[0] ?? 0),
  ledger: newLedger(0, 0),
});

const divergedAt = (step: number, newest = ckpt(60)): FailureClass => ({
  kind: 'divergence',
  reason: 'training diverged at epoch 0 batch 65 (step 65): loss is NaN',
  ckpt: newest,
  atBatch: step % 100,
  diverged: { epoch: 0, batch: step % 100, step, loss: NaN, reason: 'loss is NaN' },
});

test('rolls back to the newest checkpoint before the window and rollbackSteps, and skips the window', () => {
  const decision = decideRecovery(record({ skipBatches: 3, rollbackSteps: 10 }), divergedAt(65), 0, 1_000);
  assert.equal(decision.action, 'resume');
  if (decision.action !== 'resume') return;
  const r = decision.record;
  assert.equal(r.position?.step, 40, 'before step 55 (rollbackSteps 10) and before the window at 63');
  assert.deepEqual(r.skips, [{ epoch: 0, fromBatch: 63, toBatch: 65, firstSample: 630, lastSample: 659 }]);
  assert.equal(r.resumeReason, 'divergence');
  assert.deepEqual(r.unusable, [], 'checkpoints before the window are the same in both lineages');
  assert.equal(r.recoveries.at(-1)?.kind, 'divergence');
  assert.equal(r.recoveries.at(-1)?.stepsRedone, 66 - 40);
  assert.equal(decision.backoffMs, 0);
});

test('checkpoints inside the window hold skipped batches: never resumed from again', () => {
  const decision = decideRecovery(record({ skipBatches: 30 }), divergedAt(65), 0, 1_000);
  if (decision.action !== 'resume') return assert.fail(decision.action);
  assert.equal(decision.record.position?.step, 20, 'the window starts at batch 36');
  assert.deepEqual(decision.record.unusable, [ckpt(40).url, ckpt(60).url]);
});

test('the window does not reach into the previous epoch, and the rollback goes back to the first checkpoint', () => {
  const decision = decideRecovery(record({ skipBatches: 500 }, [0]), divergedAt(5, ckpt(0)), 0, 1_000);
  if (decision.action !== 'resume') return assert.fail(decision.action);
  assert.deepEqual(decision.record.skips?.[0], {
    epoch: 0,
    fromBatch: 0,
    toBatch: 5,
    firstSample: 0,
    lastSample: 59,
  });
  assert.equal(decision.record.position?.step, 0);
});

test('the rollback budget counts over the run and fails naming what was skipped', () => {
  let current = record({ maxRollbacks: 1 });
  const first = decideRecovery(current, divergedAt(65), 0, 1_000);
  if (first.action !== 'resume') return assert.fail(first.action);
  current = first.record;
  const second = decideRecovery(current, divergedAt(65), 0, 2_000);
  assert.equal(second.action, 'fail');
  if (second.action !== 'fail') return;
  assert.equal(second.type, 'RecoveryBudgetExhaustedError');
  assert.match(second.message, /divergence rollback budget of 1 exhausted/);
  assert.match(second.message, /epoch 0 batches 65-65/);
});

test('a divergence in a run without a divergence policy is not rolled back', () => {
  const plain: RunRecord = { ...record({}), spec: parseSpec({ task: 'synthetic', epochs: 1, seed: 1 }, 'r') };
  const decision = decideRecovery(plain, divergedAt(65), 0, 1_000);
  assert.equal(decision.action, 'fail');
});
