/**
 * The data-parallel workflow's decisions (workflows/parallel-decide.ts): the step between rounds, what
 * a failed shard resumes from and which budget it spends, what its failure adds to the run's goodput
 * ledger (steps redone past where the shard resumes, in the shard's own steps), and how a merged
 * round is recorded.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type {
  AttemptTiming,
  CheckpointRef,
  ControlState,
  ParallelProgress,
  ParallelRunRecord,
  ShardResult,
} from '../../src/contract';
import { parseSpec } from '../../src/spec';
import type { TrainingSpecInput } from '../../src/spec';
import {
  decideShardRecovery,
  nextRoundStep,
  recordInit,
  recordRound,
  ROUND_WINDOW,
} from '../../workflows/parallel-decide';
import { newLedger } from '../../workflows/goodput';

const ckpt = (round: number, batch: number, name = 'x'): CheckpointRef => ({
  url: `s3://b/run/parallel/round=${round}/${name}-${batch}.ckpt`,
  sha256: 'ab'.repeat(32),
  bytes: 100,
  epoch: round,
  batch,
  step: round * 20 + batch,
});

function recordOf(recovery: TrainingSpecInput['recovery'] = {}): ParallelRunRecord {
  const spec = parseSpec(
    { task: 'synthetic', seed: 1, epochs: 5, recovery, parallel: { shards: 3, syncEverySteps: 20 } },
    'wf',
  );
  return { spec, checkpoints: [], epochs: [], recoveries: [], unusable: [] };
}

const idle: ControlState = { paused: false, stopRequested: false, checkpointRequests: 0 };
const progress: ParallelProgress = {
  round: 1,
  rounds: 3,
  global: ckpt(1, 0, 'global'),
  previous: [],
  log: [],
};

test('between rounds: complete, stop, pause, continue-as-new, else train', () => {
  assert.equal(
    nextRoundStep({ ...progress, round: 3 }, { ...idle, stopRequested: true }, 0, 10, false),
    'complete',
  );
  assert.equal(nextRoundStep(progress, { ...idle, stopRequested: true }, 0, 10, false), 'stop');
  assert.equal(nextRoundStep(progress, { ...idle, paused: true }, 0, 10, false), 'wait-while-paused');
  assert.equal(nextRoundStep(progress, idle, 10, 10, false), 'continue-as-new');
  assert.equal(nextRoundStep(progress, idle, 0, 10, true), 'continue-as-new');
  assert.equal(nextRoundStep(progress, idle, 0, 10, false), 'train');
});

test('a crashed shard resumes alone from the newest durable checkpoint of its round, and it is counted', () => {
  const record = recordOf();
  const heartbeat = ckpt(1, 15);
  const d = decideShardRecovery(
    record,
    { kind: 'crash', reason: 'worker stopped heartbeating', ckpt: heartbeat, atBatch: 17 },
    { round: 1, shard: 2, infraStreak: 0, resumeFrom: ckpt(1, 5) },
  );
  assert.equal(d.action, 'resume');
  assert.deepEqual(d.action === 'resume' && d.from, heartbeat);
  assert.equal(record.counts?.crash, 1);
  assert.match(record.recoveries[0]?.reason ?? '', /^shard 2: /);
  assert.equal(record.recoveries[0]?.atEpoch, 1);
});

test('a crash before any checkpoint of this round resumes from the round start', () => {
  const record = recordOf();
  const d = decideShardRecovery(
    record,
    { kind: 'crash', reason: 'lost', ckpt: ckpt(0, 19) },
    { round: 1, shard: 0, infraStreak: 0 },
  );
  assert.equal(d.action, 'resume');
  assert.equal(d.action === 'resume' && d.from, undefined);
  assert.equal(record.recoveries[0]?.fromCkpt, '(round start)');
});

test('budgets are the run’s: crashes over the run, infrastructure failures in a row per shard', () => {
  const record = recordOf({ maxCrashRecoveries: 1, maxInfraRetries: 1 });
  const crash = { kind: 'crash' as const, reason: 'lost' };
  assert.equal(decideShardRecovery(record, crash, { round: 0, shard: 0, infraStreak: 0 }).action, 'resume');
  const second = decideShardRecovery(record, crash, { round: 0, shard: 1, infraStreak: 0 });
  assert.equal(second.action, 'fail');
  assert.match(
    second.action === 'fail' ? second.message : '',
    /crash budget of 1 exhausted at shard 1 of round 0/,
  );
  const infra = { kind: 'infrastructure' as const, reason: 'S3 down' };
  const first = decideShardRecovery(record, infra, { round: 0, shard: 2, infraStreak: 0 });
  assert.equal(first.action === 'resume' && first.infraStreak, 1);
  assert.equal(decideShardRecovery(record, infra, { round: 0, shard: 2, infraStreak: 1 }).action, 'fail');
});

test('fatal failures fail the run; an unusable shard checkpoint falls back to the round start', () => {
  const record = recordOf();
  const fatal = decideShardRecovery(
    record,
    { kind: 'fatal', reason: 'bad hparams', type: 'InvalidSpecError' },
    { round: 0, shard: 0, infraStreak: 0 },
  );
  assert.deepEqual(fatal, { action: 'fail', type: 'InvalidSpecError', message: 'bad hparams' });
  const unusable = { kind: 'unusable-checkpoint' as const, reason: 'hash mismatch' };
  const back = decideShardRecovery(record, unusable, {
    round: 1,
    shard: 1,
    infraStreak: 0,
    resumeFrom: ckpt(1, 5),
  });
  assert.equal(back.action === 'resume' && back.kind, 'fallback');
  assert.equal(back.action === 'resume' && back.from, undefined);
  assert.equal(decideShardRecovery(record, unusable, { round: 1, shard: 1, infraStreak: 0 }).action, 'fail');
});

test('a merged round becomes the run’s position; the round log is a bounded window', () => {
  const record = recordOf();
  const init = {
    round: 0,
    ckpt: ckpt(0, 0, 'global'),
    weightsSha256: 'w0',
    metrics: {},
    bytesMoved: 1,
    backend: 'cpu',
    rounds: 30,
  };
  record.parallel = recordInit(record, init);
  assert.equal(record.position?.url, init.ckpt.url);
  assert.equal(record.parallel.rounds, 30);
  for (let round = 0; round < ROUND_WINDOW + 2; round++) {
    const shards: ShardResult[] = [0, 1, 2].map((shard) => ({
      round,
      shard,
      ckpt: ckpt(round + 1, 0, `shard${shard}`),
      weightsSha256: 's',
      metrics: {},
      worker: `w${shard}`,
      durationMs: 1,
      backend: 'cpu',
    }));
    const merged = { ...init, round, ckpt: ckpt(round + 1, 0, 'global'), weightsSha256: `w${round + 1}` };
    recordRound(record, merged, shards, [0, round === 1 ? 1 : 0, 0], { roundMs: 5, mergeMs: 2 });
  }
  assert.equal(record.parallel.round, ROUND_WINDOW + 2);
  assert.equal(record.position?.url, ckpt(ROUND_WINDOW + 2, 0, 'global').url);
  assert.equal(record.parallel.previous.length, 3);
  assert.equal(record.parallel.log.length, ROUND_WINDOW);
  assert.equal(record.epochs.at(-1)?.weightsSha256, `w${ROUND_WINDOW + 2}`);
  assert.deepEqual(
    [record.parallel.log[0]?.roundMs, record.parallel.log[0]?.shardMs, record.parallel.log[0]?.mergeMs],
    [5, 1, 2],
  );
});

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

/** Round 1 of H = 20 (`ckpt(1, b).step` is 20 + b): every shard's cursor starts it at step 20. */
const ROUND_STEP = 20;

test('ledger: a crashed shard redoes the steps past its newest checkpoint; its next attempt is told them', () => {
  const record = { ...recordOf({ backoffSeconds: 2 }), ledger: newLedger(0, 0) };
  const d = decideShardRecovery(
    record,
    {
      kind: 'crash',
      reason: 'worker stopped heartbeating',
      ckpt: ckpt(1, 15),
      atBatch: 17,
      attempt: timing({ fromStep: 25, reachedStep: 37, queueMs: 100, startupMs: 400, at: 5_000 }),
    },
    {
      round: 1,
      shard: 2,
      infraStreak: 0,
      resumeFrom: ckpt(1, 5),
      roundStep: ROUND_STEP,
      pending: { kind: 'preemption', backoffMs: 0 },
    },
    7_000,
  );
  assert.equal(d.action, 'resume');
  if (d.action !== 'resume') return;
  assert.equal(d.stepsRedone, 2, 'trained to step 37, resumes at 35');
  assert.deepEqual(d.pending, { kind: 'crash', backoffMs: 2_000 });
  const event = record.recoveries.at(-1);
  assert.deepEqual([event?.atBatch, event?.stepsRedone, event?.detectionSeconds], [17, 2, 2]);
  assert.equal(
    (event?.atBatch ?? NaN) - (d.from?.batch ?? NaN),
    event?.stepsRedone,
    'what the resume point implies',
  );
  assert.equal(record.ledger?.stepsTrained, 12, 'the failed attempt trained 25 → 37');
  assert.deepEqual(record.ledger?.byKind.crash, {
    failures: 1,
    stepsRedone: 2,
    detectionSeconds: 2,
    recoverySeconds: 0,
  });
  // The failed attempt had itself resumed from a preemption: its wait was that one's recovery.
  assert.equal(record.ledger?.byKind.preemption?.recoverySeconds, 0.5);
  assert.equal(record.ledger?.pending, undefined, 'shards keep their pending failure themselves');
});

test('ledger: a shard with no checkpoint in the round redoes everything since the round start', () => {
  const record = recordOf();
  const d = decideShardRecovery(
    record,
    { kind: 'crash', reason: 'lost', atBatch: 6, attempt: timing({ fromStep: 20, reachedStep: 26, at: 1 }) },
    { round: 1, shard: 0, infraStreak: 0, roundStep: ROUND_STEP },
    1,
  );
  assert.equal(d.action === 'resume' && d.from, undefined);
  assert.equal(d.action === 'resume' && d.stepsRedone, 6);
  assert.equal(record.recoveries[0]?.stepsRedone, 6);
  assert.equal(record.ledger?.stepsTrained, 6, 'a record without a ledger starts one');
});

test('ledger: a shard stopped at a batch boundary (no batch in its report) redoes what its saved checkpoint misses', () => {
  // SIGTERM: the shard saved where it stopped, at batch 8: nothing redone, the batch is the save's.
  const saved = recordOf();
  const stop = { kind: 'preemption' as const, reason: 'worker shutting down' };
  const at = { round: 1, shard: 1, infraStreak: 0, roundStep: ROUND_STEP };
  const d = decideShardRecovery(
    saved,
    { ...stop, ckpt: ckpt(1, 8), attempt: timing({ fromStep: 20, reachedStep: 28 }) },
    at,
    1,
  );
  assert.equal(d.action === 'resume' && d.stepsRedone, 0);
  assert.deepEqual([saved.recoveries[0]?.atBatch, saved.recoveries[0]?.stepsRedone], [8, 0]);
  // Its save failed: it resumes from its older checkpoint at batch 5, and says it reached batch 8.
  const unsaved = recordOf();
  decideShardRecovery(
    unsaved,
    { ...stop, ckpt: ckpt(1, 5), attempt: timing({ fromStep: 20, reachedStep: 28 }) },
    at,
    1,
  );
  assert.deepEqual([unsaved.recoveries[0]?.atBatch, unsaved.recoveries[0]?.stepsRedone], [8, 3]);
});

test('ledger: a fallback from an unusable shard checkpoint redoes the round up to it', () => {
  const record = recordOf();
  const d = decideShardRecovery(
    record,
    {
      kind: 'unusable-checkpoint',
      reason: 'hash mismatch',
      attempt: timing({ fromStep: 25, reachedStep: 25 }),
    },
    { round: 1, shard: 1, infraStreak: 0, resumeFrom: ckpt(1, 5), roundStep: ROUND_STEP },
    1,
  );
  assert.equal(d.action === 'resume' && d.kind, 'fallback');
  assert.equal(d.action === 'resume' && d.stepsRedone, 5);
  assert.deepEqual(d.action === 'resume' && d.pending, { kind: 'fallback', backoffMs: 0 });
  assert.deepEqual([record.recoveries[0]?.atBatch, record.recoveries[0]?.stepsRedone], [5, 5]);
  assert.equal(record.ledger?.byKind.fallback?.stepsRedone, 5);
});

test('ledger: without the time and the round start (older callers) nothing is added', () => {
  const record = recordOf();
  const d = decideShardRecovery(
    record,
    { kind: 'crash', reason: 'lost', ckpt: ckpt(1, 5), attempt: timing({ fromStep: 20, reachedStep: 27 }) },
    { round: 1, shard: 0, infraStreak: 0 },
  );
  assert.equal(d.action === 'resume' && d.stepsRedone, undefined);
  assert.equal(record.ledger, undefined);
  assert.equal(record.recoveries[0]?.stepsRedone, undefined);
  assert.equal(record.recoveries[0]?.atBatch, 5, 'the checkpoint’s batch, as before');
});
