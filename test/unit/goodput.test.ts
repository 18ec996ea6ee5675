// The goodput ledger's pure updates (workflows/goodput.ts) and how decideRecovery feeds it: steps
// trained, kept and redone, and where the lost seconds went, by failure kind.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AttemptTiming, CheckpointRef, RunRecord } from '../../src/contract';
import { parseSpec } from '../../src/spec';
import { addAttempt, addFailure, addPaused, goodputOf, newLedger } from '../../workflows/goodput';
import { decideRecovery } from '../../workflows/decide';

const timing = (t: Partial<AttemptTiming>): AttemptTiming => ({
  fromStep: 0,
  reachedStep: 0,
  queueMs: 0,
  startupMs: 0,
  trainMs: 0,
  stallMs: 0,
  at: 0,
  ...t,
});

const ckpt = (step: number, batchesPerEpoch = 100): CheckpointRef => ({
  url: `s3://b/run/epoch=${Math.floor(step / batchesPerEpoch)}-step=${step}.ckpt`,
  sha256: 'x',
  bytes: 1,
  epoch: Math.floor(step / batchesPerEpoch),
  batch: step % batchesPerEpoch,
  step,
});

test('an epoch that finishes adds its steps, training time, stall and queue wait', () => {
  const ledger = addAttempt(
    newLedger(1_000, 0),
    timing({ fromStep: 0, reachedStep: 100, queueMs: 200, startupMs: 300, trainMs: 9_000, stallMs: 400 }),
  );
  assert.equal(ledger.stepsTrained, 100);
  assert.equal(ledger.trainMs, 9_000);
  assert.deepEqual(ledger.lostMs, { detection: 0, recovery: 0, checkpointStall: 400, queueWait: 500 });
  const record = {
    spec: parseSpec({ task: 'synthetic', seed: 1, epochs: 2 }, 'r'),
    position: ckpt(100),
    ledger,
  } as RunRecord;
  const g = goodputOf(record, 11_000);
  assert.equal(g?.stepsKept, 100);
  assert.equal(g?.stepRatio, 1);
  assert.equal(g?.wallSeconds, 10);
  assert.equal(g?.ratio, 0.9, 'productive 9 s of 10 s');
});

test('a failure loses the steps trained past the resume point; the next attempt pays its recovery', () => {
  let ledger = newLedger(0, 0);
  const failed = addFailure(
    ledger,
    {
      kind: 'crash',
      timing: timing({ fromStep: 0, reachedStep: 57, trainMs: 5_700, at: 10_000 }),
      reached: 40,
    },
    40, // resumes from the checkpoint at step 40
    12_500, // the workflow acts 2.5 s after the attempt's last report
    1_000,
  );
  assert.equal(failed.stepsRedone, 17);
  assert.equal(failed.detectionSeconds, 2.5);
  ledger = addAttempt(
    failed.ledger,
    timing({ fromStep: 40, reachedStep: 100, queueMs: 300, startupMs: 700, trainMs: 6_000 }),
  );
  assert.equal(ledger.stepsTrained, 57 + 60);
  assert.deepEqual(ledger.byKind.crash, {
    failures: 1,
    stepsRedone: 17,
    detectionSeconds: 2.5,
    recoverySeconds: 2,
  });
  assert.equal(ledger.lostMs.recovery, 2_000, 'backoff 1 s + queue 0.3 s + start-up 0.7 s');
  assert.equal(ledger.lostMs.queueWait, 0, 'the wait after a failure is recovery, not queue wait');
  assert.equal(ledger.pending, undefined);
  const record = {
    spec: parseSpec({ task: 'synthetic', seed: 1, epochs: 1 }, 'r'),
    position: ckpt(100),
    ledger,
  } as RunRecord;
  const g = goodputOf(record, 20_000);
  assert.equal(g?.stepsTrained, 117);
  assert.equal(g?.stepsKept, 100);
  assert.equal(g?.stepsRedone, 17);
  assert.equal(g?.stepRatio, Math.round((100 / 117) * 1e4) / 1e4);
});

test('paused time is left out of the wall time', () => {
  const ledger = addPaused(addAttempt(newLedger(0, 0), timing({ reachedStep: 10, trainMs: 1_000 })), 8_000);
  const record = {
    spec: parseSpec({ task: 'synthetic', seed: 1, epochs: 1 }, 'r'),
    position: ckpt(10),
    ledger,
  } as RunRecord;
  assert.equal(goodputOf(record, 10_000)?.wallSeconds, 2);
  assert.equal(goodputOf(record, 10_000)?.ratio, 0.5);
});

test('decideRecovery: a crash after a checkpoint records steps redone and detection on the event and in the ledger', () => {
  const spec = parseSpec({ task: 'synthetic', seed: 1, epochs: 2, recovery: { backoffSeconds: 0 } }, 'r');
  const record: RunRecord = {
    spec,
    checkpoints: [ckpt(100)],
    epochs: [],
    recoveries: [],
    unusable: [],
    position: ckpt(100),
    ledger: newLedger(0, 0),
  };
  const decision = decideRecovery(
    record,
    {
      kind: 'crash',
      reason: 'worker stopped heartbeating',
      ckpt: ckpt(140),
      atBatch: 52,
      attempt: timing({ fromStep: 100, reachedStep: 152, at: 5_000 }),
    },
    1,
    7_000,
  );
  assert.equal(decision.action, 'resume');
  if (decision.action !== 'resume') return;
  const event = decision.record.recoveries.at(-1);
  assert.equal(event?.fromCkpt, ckpt(140).url);
  assert.equal(event?.stepsRedone, 12, 'trained to 152, resumes at 140');
  assert.equal(event?.detectionSeconds, 2);
  assert.equal(decision.record.ledger?.byKind.crash?.stepsRedone, 12);
  assert.equal(decision.record.ledger?.stepsTrained, 52);
  assert.equal(record.ledger?.stepsTrained, 0, "the caller's record is untouched");
});

test('decideRecovery: a fallback loses the steps between the unusable checkpoint and the older one', () => {
  const spec = parseSpec({ task: 'synthetic', seed: 1, epochs: 3 }, 'r');
  const record: RunRecord = {
    spec,
    checkpoints: [ckpt(100), ckpt(200)],
    epochs: [],
    recoveries: [],
    unusable: [],
    position: ckpt(200),
    ledger: newLedger(0, 0),
  };
  const decision = decideRecovery(
    record,
    {
      kind: 'unusable-checkpoint',
      reason: 'corrupt',
      attempt: timing({ fromStep: 200, reachedStep: 200, at: 1 }),
    },
    2,
    2,
  );
  assert.equal(decision.action, 'fall-back');
  if (decision.action !== 'fall-back') return;
  assert.equal(decision.record.recoveries.at(-1)?.stepsRedone, 100);
  assert.equal(decision.record.ledger?.byKind.fallback?.stepsRedone, 100);
});

test('decideRecovery without the time (older callers): no ledger entry, the event as before', () => {
  const spec = parseSpec({ task: 'synthetic', seed: 1, epochs: 2 }, 'r');
  const record: RunRecord = {
    spec,
    checkpoints: [],
    epochs: [],
    recoveries: [],
    unusable: [],
    position: ckpt(100),
  };
  const decision = decideRecovery(record, { kind: 'crash', reason: 'x', atBatch: 3 }, 1);
  assert.equal(decision.action, 'resume');
  if (decision.action !== 'resume') return;
  assert.equal(decision.record.ledger, undefined);
  assert.equal(decision.record.recoveries.at(-1)?.stepsRedone, undefined);
});
