/**
 * One named test per branch of the training workflow's decisions (workflows/decide.ts): what the
 * loop does next in every control state, and what each kind of failure leads to, budgets included.
 * Pure functions: no server, milliseconds each. The workflow tier (test/workflow) runs the same
 * logic inside a real workflow; these make the logic cheap to change.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CheckpointRef, ControlState, RunRecord } from '../../src/contract';
import { parseSpec } from '../../src/spec';
import type { TrainingSpecInput } from '../../src/spec';
import type { LoopState } from '../../workflows/decide';
import { decideRecovery, nextStep } from '../../workflows/decide';
import type { FailureClass } from '../../workflows/recovery';

const ckpt = (epoch: number, batch: number, step = epoch * 100 + batch): CheckpointRef => ({
  url: `s3://b/run/epoch=${String(epoch).padStart(4, '0')}-step=${String(step).padStart(7, '0')}.ckpt`,
  sha256: 'ab'.repeat(32),
  bytes: 1000,
  epoch,
  batch,
  step,
});

function recordOf(over: Partial<RunRecord> = {}, spec: Partial<TrainingSpecInput> = {}): RunRecord {
  return {
    spec: parseSpec({ task: 'synthetic', seed: 1, epochs: 5, continueAsNewEvery: 3, ...spec }, 'wf-1'),
    checkpoints: [],
    epochs: [],
    recoveries: [],
    unusable: [],
    ...over,
  };
}

const idle: ControlState = { paused: false, stopRequested: false, checkpointRequests: 0 };

function loop(over: Partial<LoopState> & { patched?: boolean } = {}): LoopState {
  const patched = over.patched ?? true;
  return {
    record: recordOf(),
    controls: idle,
    epochsThisExecution: 0,
    continueAsNewSuggested: false,
    patches: { stopInAnyState: () => patched, pauseBeforeContinueAsNew: () => patched },
    ...over,
  };
}

// ---- the loop ----

test('loop: a fresh run trains epoch 0', () => {
  assert.deepEqual(nextStep(loop()), { step: 'train', epoch: 0 });
});

test('loop: after a finished epoch it trains the next one from the recorded position', () => {
  assert.deepEqual(nextStep(loop({ record: recordOf({ position: ckpt(2, 0) }) })), {
    step: 'train',
    epoch: 2,
  });
});

test('loop: after a failure it resumes from the explicit checkpoint with the reason', () => {
  const from = ckpt(1, 40);
  const record = recordOf({ position: from, resumeReason: 'crash' });
  assert.deepEqual(nextStep(loop({ record })), { step: 'resume', epoch: 1, from, reason: 'crash' });
});

test('loop: all epochs trained completes, even with a stop or pause pending', () => {
  const record = recordOf({ position: ckpt(5, 0) });
  const controls = { paused: true, stopRequested: true, checkpointRequests: 0 };
  assert.deepEqual(nextStep(loop({ record, controls })), { step: 'complete' });
});

test('loop: stop while running (between epochs) stops', () => {
  const controls = { ...idle, stopRequested: true };
  assert.deepEqual(nextStep(loop({ record: recordOf({ position: ckpt(1, 0) }), controls })), {
    step: 'stop',
  });
});

test('loop: stop while paused stops at once', () => {
  const controls = { ...idle, paused: true, stopRequested: true };
  const record = recordOf({ position: ckpt(1, 7), resumeReason: 'pause' });
  assert.deepEqual(nextStep(loop({ record, controls })), { step: 'stop' });
});

test('loop: stop while recovering stops at once', () => {
  const controls = { ...idle, stopRequested: true };
  const record = recordOf({ position: ckpt(1, 7), resumeReason: 'crash' });
  assert.deepEqual(nextStep(loop({ record, controls })), { step: 'stop' });
});

test('loop: stop while recovering, in a history from before the patch, resumes first', () => {
  const controls = { ...idle, stopRequested: true };
  const record = recordOf({ position: ckpt(1, 7), resumeReason: 'crash' });
  assert.equal(nextStep(loop({ record, controls, patched: false })).step, 'resume');
});

test('loop: the stop patch is asked only when a stop meets a recovering run', () => {
  let asked = 0;
  const state = loop({ controls: { ...idle, stopRequested: true } });
  state.patches.stopInAnyState = () => (asked++, true);
  nextStep(state);
  assert.equal(asked, 0, 'not recovering: the decision does not depend on the patch');
});

test('loop: paused waits', () => {
  const controls = { ...idle, paused: true };
  assert.deepEqual(nextStep(loop({ controls })), { step: 'wait-while-paused' });
});

test('loop: resume signal (paused cleared) continues from the pause checkpoint', () => {
  const from = ckpt(2, 13);
  const record = recordOf({ position: from, resumeReason: 'pause' });
  assert.deepEqual(nextStep(loop({ record })), { step: 'resume', epoch: 2, from, reason: 'pause' });
});

test('loop: continue-as-new after continueAsNewEvery epochs in this execution', () => {
  const record = recordOf({ position: ckpt(3, 0) });
  assert.deepEqual(nextStep(loop({ record, epochsThisExecution: 3 })), { step: 'continue-as-new' });
});

test('loop: continue-as-new when the server suggests it', () => {
  assert.deepEqual(nextStep(loop({ continueAsNewSuggested: true })), { step: 'continue-as-new' });
});

test('loop: paused when continue-as-new is due waits first (the pause is not carried blind)', () => {
  const controls = { ...idle, paused: true };
  assert.deepEqual(nextStep(loop({ controls, epochsThisExecution: 3 })), { step: 'wait-while-paused' });
});

test('loop: paused when continue-as-new is due, in a history from before the patch, continues as new', () => {
  const controls = { ...idle, paused: true };
  assert.deepEqual(nextStep(loop({ controls, epochsThisExecution: 3, patched: false })), {
    step: 'continue-as-new',
  });
});

// ---- failures ----

const crash = (extra: Partial<FailureClass> = {}): FailureClass =>
  ({ kind: 'crash', reason: 'worker stopped heartbeating', ...extra }) as FailureClass;

test('crash: resumes from the newer checkpoint the heartbeats carried, after the backoff', () => {
  const record = recordOf(
    { position: ckpt(1, 0), checkpoints: [ckpt(1, 0)] },
    { recovery: { backoffSeconds: 2 } },
  );
  const hb = ckpt(1, 30);
  const d = decideRecovery(record, crash({ ckpt: hb, atBatch: 41 }), 1);
  assert.equal(d.action, 'resume');
  if (d.action !== 'resume') return;
  assert.equal(d.kind, 'crash');
  assert.equal(d.backoffMs, 2000);
  assert.deepEqual(d.record.position, hb);
  assert.equal(d.record.resumeReason, 'crash');
  assert.deepEqual(d.record.recoveries.at(-1), {
    kind: 'crash',
    reason: 'worker stopped heartbeating',
    atEpoch: 1,
    atBatch: 41,
    fromCkpt: hb.url,
  });
  assert.equal(record.position?.batch, 0, "the caller's record is untouched");
});

test('crash: an older checkpoint in the heartbeats does not move the position back', () => {
  const record = recordOf({ position: ckpt(2, 0), checkpoints: [ckpt(2, 0)] });
  const d = decideRecovery(record, crash({ ckpt: ckpt(1, 50) }), 2);
  assert.ok(d.action === 'resume');
  assert.deepEqual(d.record.position, ckpt(2, 0));
});

test('crash before the first checkpoint: a fresh start (no resume reason)', () => {
  const d = decideRecovery(recordOf(), crash(), 0);
  assert.ok(d.action === 'resume');
  assert.equal(d.record.resumeReason, undefined);
  assert.equal(d.record.recoveries[0]?.fromCkpt, '(fresh start)');
});

test('crash budget: the crash after maxCrashRecoveries fails the run', () => {
  const record = recordOf(
    { position: ckpt(1, 0), counts: { crash: 2 } },
    { recovery: { maxCrashRecoveries: 2 } },
  );
  const d = decideRecovery(record, crash(), 1);
  assert.equal(d.action, 'fail');
  assert.ok(
    d.action === 'fail' && d.type === 'RecoveryBudgetExhaustedError' && /crash budget of 2/.test(d.message),
  );
});

test('preemption: resumes from the checkpoint it saved, counted as a preemption', () => {
  const saved = ckpt(1, 77);
  const d = decideRecovery(
    recordOf({ position: ckpt(1, 0) }),
    { kind: 'preemption', reason: 'SIGTERM', ckpt: saved },
    1,
  );
  assert.ok(d.action === 'resume');
  assert.equal(d.kind, 'preemption');
  assert.deepEqual(d.record.position, saved);
  assert.deepEqual(d.record.counts, { preemption: 1 });
});

test('preemption budget: the preemption after maxPreemptions fails the run', () => {
  const record = recordOf(
    { position: ckpt(1, 0), counts: { preemption: 1 } },
    { recovery: { maxPreemptions: 1 } },
  );
  const d = decideRecovery(record, { kind: 'preemption', reason: 'SIGTERM' }, 1);
  assert.ok(d.action === 'fail' && /preemption budget of 1/.test(d.message));
});

test('infrastructure: the backoff doubles per consecutive failure up to maxBackoffSeconds', () => {
  const spec = { recovery: { backoffSeconds: 1, maxBackoffSeconds: 5, maxInfraRetries: 100 } };
  let record = recordOf({ position: ckpt(1, 0) }, spec);
  const waits: number[] = [];
  for (let i = 0; i < 5; i++) {
    const d = decideRecovery(record, { kind: 'infrastructure', reason: 'S3 down' }, 1);
    assert.ok(d.action === 'resume');
    waits.push(d.backoffMs);
    record = d.record;
  }
  assert.deepEqual(waits, [1000, 2000, 4000, 5000, 5000]);
});

test('infrastructure budget: more consecutive failures than maxInfraRetries fail the run', () => {
  const record = recordOf(
    { position: ckpt(1, 0), streak: { infrastructure: 2, fallback: 0 } },
    { recovery: { maxInfraRetries: 2 } },
  );
  const d = decideRecovery(record, { kind: 'infrastructure', reason: 'S3 down' }, 1);
  assert.ok(d.action === 'fail' && /consecutive infrastructure budget of 2/.test(d.message));
});

test('infrastructure budget counts since the last progress: a newer checkpoint resets the streak', () => {
  const record = recordOf(
    { position: ckpt(1, 0), streak: { infrastructure: 2, fallback: 0 } },
    { recovery: { maxInfraRetries: 2 } },
  );
  const d = decideRecovery(record, { kind: 'infrastructure', reason: 'S3 down', ckpt: ckpt(1, 10) }, 1);
  assert.ok(d.action === 'resume');
  assert.deepEqual(d.record.streak, { infrastructure: 1, fallback: 0 });
});

test('fallback: an unusable starting checkpoint is marked and the newest usable older one is resumed at once', () => {
  const older = ckpt(1, 0);
  const bad = ckpt(1, 50);
  const record = recordOf({ position: bad, checkpoints: [older, bad], resumeReason: 'crash' });
  const d = decideRecovery(record, { kind: 'unusable-checkpoint', reason: 'sha mismatch' }, 1);
  assert.equal(d.action, 'fall-back');
  assert.ok(d.action === 'fall-back');
  assert.deepEqual(d.record.position, older);
  assert.deepEqual(d.record.unusable, [bad.url]);
  assert.equal(d.record.resumeReason, 'fallback');
  assert.deepEqual(record.unusable, [], "the caller's record is untouched");
});

test('fallback with no older checkpoint: a fresh start', () => {
  const bad = ckpt(0, 50);
  const d = decideRecovery(
    recordOf({ position: bad, checkpoints: [bad] }),
    { kind: 'unusable-checkpoint', reason: 'x' },
    0,
  );
  assert.ok(d.action === 'fall-back');
  assert.equal(d.record.position, undefined);
  assert.equal(d.record.resumeReason, undefined);
});

test('fallback from a user resumeFrom with nothing older: fails, saying to point at another .ckpt', () => {
  const bad = ckpt(3, 0);
  const record = recordOf({ position: bad, checkpoints: [bad] }, { resumeFrom: bad.url });
  const d = decideRecovery(record, { kind: 'unusable-checkpoint', reason: 'x' }, 3);
  assert.ok(d.action === 'fail' && d.type === 'NoValidCheckpointError' && /another \.ckpt/.test(d.message));
});

test('fallback budget: more consecutive fallbacks than maxFallbacks fail the run, naming the checkpoints', () => {
  const bad = ckpt(1, 5);
  const record = recordOf(
    { position: bad, checkpoints: [bad], streak: { infrastructure: 0, fallback: 1 } },
    { recovery: { maxFallbacks: 1 } },
  );
  const d = decideRecovery(record, { kind: 'unusable-checkpoint', reason: 'x' }, 1);
  assert.ok(d.action === 'fail' && /fallback budget of 1/.test(d.message) && d.message.includes(bad.url));
});

test('unusable checkpoint with no position at all: the run fails as corrupt', () => {
  const d = decideRecovery(recordOf(), { kind: 'unusable-checkpoint', reason: 'x' }, 0);
  assert.ok(d.action === 'fail' && d.type === 'CheckpointCorruptError');
});

test('pause: records the checkpoint saved at the batch boundary, counts no recovery', () => {
  const saved = ckpt(2, 9);
  const d = decideRecovery(
    recordOf({ position: ckpt(2, 0) }),
    { kind: 'pause', reason: 'paused', ckpt: saved },
    2,
  );
  assert.ok(d.action === 'pause');
  assert.deepEqual(d.record.position, saved);
  assert.equal(d.record.resumeReason, 'pause');
  assert.deepEqual(d.record.recoveries, []);
});

test('fatal: fails with the error type and message, no recovery recorded', () => {
  const d = decideRecovery(recordOf(), { kind: 'fatal', reason: 'bad hparam', type: 'InvalidSpecError' }, 0);
  assert.deepEqual(d, { action: 'fail', type: 'InvalidSpecError', message: 'bad hparam' });
});
