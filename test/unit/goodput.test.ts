// The goodput ledger's pure updates (workflows/goodput.ts) and how decideRecovery feeds it: steps
// trained, kept and redone, and where the lost seconds went, by failure kind; and the same ledger in
// shard steps for data-parallel runs (each shard's pending failure its own; kept = K × merged steps).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AttemptTiming, CheckpointRef, ParallelRunRecord, RunRecord } from '../../src/contract';
import { parseSpec } from '../../src/spec';
import {
  addAttempt,
  addFailure,
  addPaused,
  addShardAttempt,
  addShardFailure,
  goodputOf,
  newLedger,
} from '../../workflows/goodput';
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

test('data-parallel: each shard pays its own failure’s recovery, whatever order the shards report in', () => {
  let ledger = newLedger(0, 0);
  // Round 0 (H = 20) of two shards: shard 0 crashes at step 12 (checkpoint at 10, backoff 1 s),
  // then shard 1 fails on infrastructure at step 7 (no checkpoint in the round, no backoff).
  const crash = addShardFailure(
    ledger,
    { kind: 'crash', timing: timing({ reachedStep: 12, trainMs: 1_200, at: 1_000 }), reached: 10 },
    undefined,
    10,
    3_000,
    1_000,
  );
  assert.equal(crash.stepsRedone, 2);
  assert.equal(crash.detectionSeconds, 2);
  const infra = addShardFailure(
    crash.ledger,
    { kind: 'infrastructure', timing: timing({ reachedStep: 7, trainMs: 700, at: 3_500 }), reached: 0 },
    undefined,
    0,
    4_000,
    0,
  );
  assert.equal(infra.stepsRedone, 7);
  assert.deepEqual(crash.pending, { kind: 'crash', backoffMs: 1_000 });
  assert.deepEqual(infra.pending, { kind: 'infrastructure', backoffMs: 0 });
  assert.equal(infra.ledger.pending, undefined, 'shards never use the epoch runs’ single pending');
  // Shard 1's resumed attempt reports first, then shard 0's: each adds to its own failure's kind.
  ledger = addShardAttempt(
    infra.ledger,
    timing({ fromStep: 0, reachedStep: 20, queueMs: 300, trainMs: 2_000 }),
    infra.pending,
  );
  ledger = addShardAttempt(
    ledger,
    timing({ fromStep: 10, reachedStep: 20, startupMs: 500, trainMs: 1_000 }),
    crash.pending,
  );
  assert.equal(ledger.byKind.infrastructure?.recoverySeconds, 0.3);
  assert.equal(ledger.byKind.crash?.recoverySeconds, 1.5, 'backoff 1 s + start-up 0.5 s');
  assert.equal(ledger.lostMs.recovery, 1_800);
  assert.equal(ledger.lostMs.queueWait, 0);
  assert.equal(ledger.stepsTrained, 12 + 7 + 20 + 10);
  // A shard attempt that resumed from no failure (a first attempt) waits as queue wait.
  assert.equal(addShardAttempt(ledger, timing({ queueMs: 250 }), undefined).lostMs.queueWait, 250);
});

test('data-parallel: kept steps are K × the merged global cursor; seconds are the shards’ mean', () => {
  // Three shards, two merged rounds of 20 steps: the global checkpoint's cursor is at step 40.
  let ledger = newLedger(0, 0);
  for (let shard = 0; shard < 3; shard++)
    for (let round = 0; round < 2; round++)
      ledger = addShardAttempt(
        ledger,
        timing({ fromStep: round * 20, reachedStep: (round + 1) * 20, trainMs: 4_000, queueMs: 300 }),
        undefined,
      );
  const failed = addShardFailure(
    ledger,
    {
      kind: 'crash',
      timing: timing({ fromStep: 40, reachedStep: 46, trainMs: 1_200, at: 9_000 }),
      reached: 40,
    },
    undefined,
    40,
    9_000,
    0,
  );
  const record = {
    spec: parseSpec(
      { task: 'synthetic', seed: 1, epochs: 2, parallel: { shards: 3, syncEverySteps: 20 } },
      'r',
    ),
    position: ckpt(40),
    ledger: failed.ledger,
  } as RunRecord;
  const g = goodputOf(record, 10_000);
  assert.equal(g?.stepsKept, 120, '3 shards × 40 merged steps');
  assert.equal(g?.stepsTrained, 126);
  assert.equal(g?.stepsRedone, 6);
  assert.equal(g?.stepsKept, (g?.stepsTrained ?? 0) - (g?.stepsRedone ?? 0));
  assert.equal(g?.stepRatio, Math.round((120 / 126) * 1e4) / 1e4);
  // 25.2 shard-seconds trained, 120/126 of it kept: 24 shard-seconds, 8 s for the mean shard.
  assert.equal(g?.productiveSeconds, 8);
  assert.equal(g?.ratio, 0.8, '8 s of the run’s 10 s');
  assert.equal(g?.lostSeconds.queueWait, 0.6, '6 attempts × 0.3 s over 3 shards');
  // The same ledger read as an epoch run's (K = 1) keeps the single-run arithmetic.
  const single = goodputOf(
    { ...record, spec: parseSpec({ task: 'synthetic', seed: 1, epochs: 2 }, 'r') },
    10_000,
  );
  assert.equal(single?.stepsKept, 40);
  assert.equal(single?.lostSeconds.queueWait, 1.8);
});

test('data-parallel: inside the round in flight, each shard’s durable steps count as kept', () => {
  // Rounds 0 and 1 of H = 20 merged (global at step 40); in round 2 shard 0 is done (step 60),
  // shard 1 failed at step 49 and resumes from its checkpoint at 47, shard 2 trains from the start.
  let ledger = newLedger(0, 0);
  for (let attempt = 0; attempt < 6; attempt++)
    ledger = addShardAttempt(ledger, timing({ fromStep: 0, reachedStep: 20 }), undefined);
  ledger = addShardAttempt(ledger, timing({ fromStep: 40, reachedStep: 60 }), undefined);
  ledger = addShardFailure(
    ledger,
    { kind: 'crash', timing: timing({ fromStep: 40, reachedStep: 49 }), reached: 47 },
    undefined,
    47,
    0,
    0,
  ).ledger;
  const parallel: NonNullable<ParallelRunRecord['parallel']> = {
    round: 2,
    rounds: 4,
    global: ckpt(40),
    previous: [],
    log: [],
    current: {
      round: 2,
      shards: [
        { shard: 0, state: 'done', recoveries: 0, step: 60 },
        { shard: 1, state: 'recovering', recoveries: 1, step: 47 },
        { shard: 2, state: 'running', recoveries: 0 },
      ],
    },
  };
  const record: ParallelRunRecord = {
    spec: parseSpec(
      { task: 'synthetic', seed: 1, epochs: 4, parallel: { shards: 3, syncEverySteps: 20 } },
      'r',
    ),
    checkpoints: [],
    epochs: [],
    recoveries: [],
    unusable: [],
    position: ckpt(40),
    ledger,
    parallel,
  };
  const g = goodputOf(record, 1_000);
  assert.deepEqual([g?.stepsKept, g?.stepsTrained, g?.stepsRedone], [120 + 20 + 7, 149, 2]);
  // Between rounds (the shards shown are the merged round's), only merged steps count.
  const between = { ...record, parallel: { ...parallel, current: { round: 1, shards: [] } } };
  assert.equal(goodputOf(between, 1_000)?.stepsKept, 120);
});
