/**
 * The data-parallel workflow's decisions (workflows/parallel-decide.ts): the step between rounds, what
 * a failed shard resumes from and which budget it spends, and how a merged round is recorded.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type {
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
