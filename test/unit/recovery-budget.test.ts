/**
 * One recovery-budget rule (workflows/budget.ts) for an epoch run (decide.ts) and a data-parallel
 * shard (parallel-decide.ts): the same sequence of failures gets the same answers (resume or fail,
 * the same backoff) on both paths. Before issue 21 a shard's infrastructure streak ignored progress
 * (a shard saving between storage errors used up the budget an epoch run rides through), a crash
 * reset it (an epoch run's does not), and a shard had no fallback budget.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CheckpointRef, ParallelRunRecord, RunRecord } from '../../src/contract';
import { parseSpec } from '../../src/spec';
import type { TrainingSpecInput } from '../../src/spec';
import { decideRecovery } from '../../workflows/decide';
import { decideShardRecovery } from '../../workflows/parallel-decide';
import type { ShardAttempt } from '../../workflows/parallel-decide';
import type { FailureClass } from '../../workflows/recovery';
import { backoffFor, counted, NO_STREAK, spentBudget } from '../../workflows/budget';

/** A checkpoint of epoch (or round) 0 at `batch`; the same ref serves both paths. */
const ckpt = (batch: number): CheckpointRef => ({
  url: `s3://b/run/e0-b${batch}.ckpt`,
  sha256: 'ab'.repeat(32),
  bytes: 100,
  epoch: 0,
  batch,
  step: batch,
});

const recovery: TrainingSpecInput['recovery'] = {
  maxInfraRetries: 2,
  maxCrashRecoveries: 5,
  maxFallbacks: 1,
  backoffSeconds: 1,
  maxBackoffSeconds: 60,
};

function epochRecord(): RunRecord {
  const spec = parseSpec({ task: 'synthetic', seed: 1, epochs: 5, recovery }, 'wf');
  return { spec, checkpoints: [], epochs: [], recoveries: [], unusable: [] };
}

function shardRecord(): ParallelRunRecord {
  const spec = parseSpec(
    { task: 'synthetic', seed: 1, epochs: 5, recovery, parallel: { shards: 2, syncEverySteps: 20 } },
    'wf',
  );
  return { spec, checkpoints: [], epochs: [], recoveries: [], unusable: [] };
}

type Answer = 'fail' | `resume after ${number} ms`;

/** The epoch path's answers to `failures`, one after another (each resumed from where it says). */
function epochAnswers(failures: FailureClass[]): Answer[] {
  let record = epochRecord();
  return failures.map((failure) => {
    const d = decideRecovery(record, failure, 0);
    if (d.action === 'fail') return 'fail';
    assert.ok(d.action === 'resume', d.action);
    record = d.record;
    return `resume after ${d.backoffMs} ms` as Answer;
  });
}

/** The shard path's answers to the same failures of one shard in round 0. */
function shardAnswers(failures: FailureClass[], oneBudgetRule = true): Answer[] {
  const record = shardRecord();
  let at: ShardAttempt = { round: 0, shard: 1, infraStreak: 0, oneBudgetRule };
  return failures.map((failure) => {
    const d = decideShardRecovery(record, failure, at);
    if (d.action === 'fail') return 'fail';
    at = {
      ...at,
      infraStreak: d.infraStreak,
      fallbackStreak: d.fallbackStreak,
      ...(d.from ? { resumeFrom: d.from } : {}),
    };
    return `resume after ${d.backoffMs} ms` as Answer;
  });
}

const infra = (saved?: number): FailureClass => ({
  kind: 'infrastructure',
  reason: 'S3 down',
  ...(saved !== undefined ? { ckpt: ckpt(saved) } : {}),
});
const crash = (saved?: number): FailureClass => ({
  kind: 'crash',
  reason: 'lost',
  ...(saved !== undefined ? { ckpt: ckpt(saved) } : {}),
});

test('infrastructure failures with no progress: both paths fail on the third (budget 2), doubling the backoff', () => {
  const failures = [infra(), infra(), infra()];
  const expected: Answer[] = ['resume after 1000 ms', 'resume after 2000 ms', 'fail'];
  assert.deepEqual(epochAnswers(failures), expected);
  assert.deepEqual(shardAnswers(failures), expected);
});

test('infrastructure failures that each saved a newer checkpoint are ridden through on both paths', () => {
  const failures = [infra(5), infra(10), infra(15), infra(20)];
  const expected = failures.map((): Answer => 'resume after 1000 ms');
  assert.deepEqual(epochAnswers(failures), expected);
  assert.deepEqual(shardAnswers(failures), expected, 'a shard saving between failures is making progress');
});

test('a crash between infrastructure failures is not progress: the streak goes on, on both paths', () => {
  const failures = [infra(), crash(), infra(), infra()];
  const expected: Answer[] = ['resume after 1000 ms', 'resume after 1000 ms', 'resume after 2000 ms', 'fail'];
  assert.deepEqual(epochAnswers(failures), expected);
  assert.deepEqual(shardAnswers(failures), expected);
});

test('a crash that saved a newer checkpoint ends the infrastructure streak on both paths', () => {
  const failures = [infra(), infra(), crash(8), infra(), infra()];
  const expected: Answer[] = [
    'resume after 1000 ms',
    'resume after 2000 ms',
    'resume after 1000 ms',
    'resume after 1000 ms',
    'resume after 2000 ms',
  ];
  assert.deepEqual(epochAnswers(failures), expected);
  assert.deepEqual(shardAnswers(failures), expected);
});

test('histories from before the one rule (patch one-recovery-budget-rule) replay the shard rule they had', () => {
  assert.deepEqual(
    shardAnswers([infra(5), infra(10), infra(15)], false),
    ['resume after 1000 ms', 'resume after 2000 ms', 'fail'],
    'progress did not end the streak',
  );
  assert.deepEqual(
    shardAnswers([infra(), crash(), infra(), infra()], false),
    ['resume after 1000 ms', 'resume after 1000 ms', 'resume after 1000 ms', 'resume after 2000 ms'],
    'a crash ended it',
  );
  const unusable: FailureClass = { kind: 'unusable-checkpoint', reason: 'hash mismatch' };
  const at = { round: 0, shard: 0, infraStreak: 0, fallbackStreak: 5, resumeFrom: ckpt(5) };
  const d = decideShardRecovery(shardRecord(), unusable, { ...at, oneBudgetRule: false });
  assert.equal(d.action, 'resume', 'no fallback budget');
});

test('a shard has the fallback budget an epoch run has: the fallback after maxFallbacks fails', () => {
  const record = shardRecord();
  const unusable: FailureClass = { kind: 'unusable-checkpoint', reason: 'hash mismatch' };
  const first = decideShardRecovery(record, unusable, {
    round: 0,
    shard: 0,
    infraStreak: 0,
    resumeFrom: ckpt(5),
  });
  assert.ok(first.action === 'resume' && first.kind === 'fallback' && first.fallbackStreak === 1);
  // The shard trained on from the round start, crashed after saving again, and that save is unusable.
  const again = decideShardRecovery(record, unusable, {
    round: 0,
    shard: 0,
    infraStreak: 0,
    fallbackStreak: first.fallbackStreak,
    resumeFrom: ckpt(9),
  });
  assert.ok(again.action === 'fail' && again.type === 'RecoveryBudgetExhaustedError');
  assert.match(again.message, /^fallback budget of 1 exhausted at shard 0 of round 0: hash mismatch/);
});

test('the rule itself: run-wide kinds count recoveries, streak kinds count the streak', () => {
  const record = epochRecord();
  assert.equal(spentBudget(record, 'infrastructure', { infrastructure: 1, fallback: 0 }), undefined);
  assert.deepEqual(spentBudget(record, 'infrastructure', { infrastructure: 2, fallback: 0 }), {
    budget: 2,
    what: 'consecutive infrastructure',
  });
  assert.equal(spentBudget(record, 'crash', { infrastructure: 99, fallback: 99 }), undefined);
  assert.deepEqual(spentBudget(record, 'divergence', NO_STREAK), { budget: 0, what: 'divergence rollback' });
  assert.deepEqual(counted(NO_STREAK, 'crash'), NO_STREAK);
  assert.equal(backoffFor(record, 'infrastructure', { infrastructure: 20, fallback: 0 }), 60_000, 'capped');
  assert.equal(backoffFor(record, 'crash', { infrastructure: 20, fallback: 0 }), 1000);
});
