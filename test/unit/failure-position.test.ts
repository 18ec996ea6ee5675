/**
 * Every failure of an epoch or shard attempt carries where it got to (issue 22): the boundary puts
 * the attempt's heartbeat details (newest durable checkpoint, batch, a finished epoch's result) in
 * the failure's details whatever the error, and the workflow's decisions resume from there — for an
 * infrastructure failure (a trainer killed by the OOM killer, a hung trainer, an S3 error on a save)
 * as for a heartbeat timeout. A lost completion after the epoch ended records the epoch.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ActivityFailure,
  ApplicationFailure,
  RetryState,
  TimeoutFailure,
  TimeoutType,
} from '@temporalio/common';
import { toActivityFailure } from '../../activities/boundary';
import type {
  CheckpointRef,
  EpochResult,
  HeartbeatDetails,
  ParallelRunRecord,
  RunRecord,
} from '../../src/contract';
import { parseSpec } from '../../src/spec';
import { TrainerCrashedError } from '../../src/training/errors';
import { decideRecovery } from '../../workflows/decide';
import { decideShardRecovery } from '../../workflows/parallel-decide';
import { classifyFailure } from '../../workflows/recovery';

const ckpt = (epoch: number, batch: number): CheckpointRef => ({
  url: `s3://b/run/epoch=${String(epoch).padStart(4, '0')}-step=${String(epoch * 100 + batch).padStart(7, '0')}.ckpt`,
  sha256: 'ab'.repeat(32),
  bytes: 1000,
  epoch,
  batch,
  step: epoch * 100 + batch,
});

const at = (batch: number, saved: CheckpointRef | undefined, finished?: EpochResult): HeartbeatDetails => ({
  epoch: 1,
  batch,
  batches: 100,
  loss: 0.5,
  ...(saved ? { ckpt: saved } : {}),
  ...(finished ? { finished } : {}),
});

function activityFailure(cause: Error): ActivityFailure {
  return new ActivityFailure(
    'activity failed',
    'trainEpoch',
    '1',
    RetryState.NON_RETRYABLE_FAILURE,
    'w',
    cause,
  );
}

function recordOf(parallel = false): RunRecord {
  const spec = parseSpec(
    {
      task: 'synthetic',
      seed: 1,
      epochs: 3,
      ...(parallel ? { parallel: { shards: 2, syncEverySteps: 100 } } : {}),
    },
    'wf',
  );
  return { spec, checkpoints: [ckpt(1, 0)], epochs: [], recoveries: [], unusable: [], position: ckpt(1, 0) };
}

test('a trainer crash mid-epoch: the failure carries the newest durable checkpoint and the batch', () => {
  const failure = toActivityFailure(new TrainerCrashedError(null, 'SIGKILL', ''), at(57, ckpt(1, 40)));
  assert.ok(failure instanceof ApplicationFailure);
  assert.equal(failure.type, 'TrainerCrashedError');
  assert.equal(failure.nonRetryable, false);
  const classified = classifyFailure(activityFailure(failure));
  assert.deepEqual(classified, {
    kind: 'infrastructure',
    reason: `TrainerCrashedError: ${failure.message}`,
    ckpt: ckpt(1, 40),
    atBatch: 57,
  });
});

test('any error carries it, also one no class declares (an S3 error during a save)', () => {
  const s3 = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9000'), { code: 'ECONNREFUSED' });
  const classified = classifyFailure(activityFailure(toActivityFailure(s3, at(80, ckpt(1, 60)))));
  assert.equal(classified.kind, 'infrastructure');
  assert.ok(
    classified.kind === 'infrastructure' && classified.ckpt?.batch === 60 && classified.atBatch === 80,
  );
});

test('the decision resumes an infrastructure failure from the carried checkpoint, at its batch', () => {
  const failure = toActivityFailure(new TrainerCrashedError(null, 'SIGKILL', ''), at(57, ckpt(1, 40)));
  const d = decideRecovery(recordOf(), classifyFailure(activityFailure(failure)), 1);
  assert.ok(d.action === 'resume');
  assert.equal(d.kind, 'infrastructure');
  assert.deepEqual(d.record.position, ckpt(1, 40));
  assert.equal(d.record.resumeReason, 'infrastructure');
  const event = d.record.recoveries.at(-1);
  assert.equal(event?.fromCkpt, ckpt(1, 40).url);
  assert.equal(event?.atBatch, 57);
});

test('histories from before: the patch check says no, and the failure carries nothing', () => {
  const failure = toActivityFailure(new TrainerCrashedError(null, 'SIGKILL', ''), at(57, ckpt(1, 40)));
  const classified = classifyFailure(activityFailure(failure), undefined, () => false);
  assert.deepEqual(Object.keys(classified).sort(), ['kind', 'reason']);
});

test('a failure without details asks no patch question (old histories replay without a marker)', () => {
  let asked = 0;
  const failure = ApplicationFailure.create({ type: 'S3Error', message: 'down' });
  classifyFailure(activityFailure(failure), undefined, () => (asked++, true));
  const timeout = new TimeoutFailure('heartbeat', at(10, ckpt(1, 5)), TimeoutType.HEARTBEAT);
  classifyFailure(activityFailure(timeout), undefined, () => (asked++, true));
  assert.equal(asked, 0);
});

test('a worker lost after the epoch-end heartbeat: the epoch is recorded with its metrics and weights', () => {
  const end = ckpt(2, 0);
  const finished: EpochResult = {
    epoch: 1,
    step: end.step,
    ckpt: end,
    metrics: { loss: 0.1 },
    weightsSha256: 'e'.repeat(64),
    backend: 'cpu',
    durationMs: 5,
  };
  const timeout = new TimeoutFailure('heartbeat', at(100, end, finished), TimeoutType.HEARTBEAT);
  const d = decideRecovery(recordOf(), classifyFailure(activityFailure(timeout)), 1);
  assert.ok(d.action === 'resume');
  assert.deepEqual(d.finished, finished, 'the caller writes its log entry');
  assert.deepEqual(
    d.record.epochs.map((e) => [e.epoch, e.weightsSha256, e.metrics]),
    [[1, 'e'.repeat(64), { loss: 0.1 }]],
  );
  assert.deepEqual(d.record.position, end);
  assert.deepEqual(d.record.recoveries.at(-1), {
    kind: 'crash',
    reason: 'worker stopped heartbeating (HEARTBEAT) at epoch 1 batch 100/100',
    atEpoch: 1,
    atBatch: 100,
    fromCkpt: end.url,
  });
});

test('a shard attempt that fails on an infrastructure error resumes from its newest checkpoint in the round', () => {
  const record = recordOf(true) as ParallelRunRecord;
  const saved = ckpt(1, 30);
  const failure = toActivityFailure(new TrainerCrashedError(9, null, ''), {
    ...at(44, saved),
    round: 1,
    shard: 0,
  });
  const d = decideShardRecovery(record, classifyFailure(activityFailure(failure)), {
    round: 1,
    shard: 0,
    infraStreak: 0,
  });
  assert.ok(d.action === 'resume');
  assert.deepEqual(d.from, saved);
  assert.equal(d.kind, 'infrastructure');
  assert.equal(record.recoveries.at(-1)?.atBatch, 44);
});
