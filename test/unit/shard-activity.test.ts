/**
 * The shard activity with a fake engine in `MockActivityEnvironment` (no server, no trainer): what a
 * shard attempt measures about itself for the run's goodput ledger (issue 22), in the shard's own
 * steps. A finished shard reports the steps from its start to the round's end; a failure carries
 * the batch of the round it reached together with a timing that agrees with it; a stop at a batch
 * boundary carries the checkpoint it saved and a timing that reaches it; a resumed shard counts its
 * recovery and the steps its failure lost (`dfit_steps_redone_total{kind}`).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { trainShard } from '../../activities/shard';
import { saveAt, shardKey } from '../../activities/parallel-keys';
import type { CheckpointRef, ShardHeartbeat, ShardResult, TrainShardInput } from '../../src/contract';
import { NO_METRICS } from '../../src/metrics/recorder';
import type { MetricsRecorder } from '../../src/metrics/recorder';
import { parseSpec } from '../../src/spec';
import type { TrainingState } from '../../src/state';
import { memoryStorage } from '../helpers/storage-ports';
import { fakeEngine as fakeEpochEngine, fakeState } from '../helpers/fake-engine';

const quiet = { logger: new DefaultLogger('ERROR') };
/** Steps per round (H): the shard session's batches per "epoch". */
const H = 4;

const spec = parseSpec(
  {
    task: 'synthetic',
    epochs: 2,
    seed: 1,
    checkpoint: { everySeconds: 0, everyBatches: 2 },
    parallel: { shards: 2, syncEverySteps: H },
  },
  'fake-run',
);

/** The shard's state after `step` of its steps (round = its "epoch", H batches each). */
const stateAt = (step: number): TrainingState => fakeState(step, H);

/**
 * A fake engine for round `round`: trains one batch per `step()` from the start state's step (the
 * test says where that is), or on its own when `auto`; `stop()` ends the job at the current batch.
 */
const fakeEngine = (round: number, startStep: number, options: { auto?: boolean } = {}) =>
  fakeEpochEngine({ batches: H, epoch: round, from: startStep, ...options });

const globalRef: CheckpointRef = {
  url: 's3://unused/fake-run/parallel/round=0000/global.ckpt',
  sha256: '0'.repeat(64),
  bytes: 1,
  epoch: 0,
  batch: 0,
  step: 0,
};

const round0: TrainShardInput = {
  spec,
  workflowId: 'fake-run',
  round: 0,
  rounds: 2,
  shard: 1,
  global: globalRef,
  attempt: 0,
};

async function failureOf(running: Promise<unknown>): Promise<ApplicationFailure> {
  const failure = await running.then(
    () => assert.fail('the attempt must fail'),
    (err: unknown) => err,
  );
  assert.ok(failure instanceof ApplicationFailure, String(failure));
  return failure;
}

test('a shard that finishes its round reports the steps it trained, from its start to the round end', async () => {
  const { store, runs } = memoryStorage();
  const { engine } = fakeEngine(0, 0, { auto: true });
  const env = new MockActivityEnvironment(undefined, quiet);
  const result = (await env.run(trainShard, { store, runs, engine }, round0)) as ShardResult;
  assert.deepEqual([result.ckpt.epoch, result.ckpt.batch, result.ckpt.step], [1, 0, H]);
  assert.ok(result.attempt, 'the result carries the attempt’s timing');
  assert.deepEqual([result.attempt.fromStep, result.attempt.reachedStep], [0, H]);
  for (const ms of [result.attempt.queueMs, result.attempt.startupMs, result.attempt.trainMs])
    assert.ok(ms >= 0 && Number.isFinite(ms));
});

test('a failure inside the round carries the batch reached, a timing that agrees, and the newest checkpoint', async () => {
  class TrainerCrashedError extends Error {
    static readonly failureKind = 'transient';
  }
  const { store, runs } = memoryStorage();
  const fake = fakeEngine(0, 0);
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 400 }, quiet); // a heartbeat every 100 ms
  const beats: ShardHeartbeat[] = [];
  env.on('heartbeat', (d: ShardHeartbeat) => beats.push(d));
  const running = env.run(trainShard, { store, runs, engine: fake.engine }, round0);
  while (!fake.started()) await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 3; i++) fake.step();
  while (!beats.some((d) => d.ckpt)) await new Promise((r) => setTimeout(r, 10)); // durable, heartbeated
  for (const d of beats)
    assert.equal(d.attempt && d.attempt.reachedStep - round0.global.step, d.batch, 'heartbeats agree');
  fake.fail(new TrainerCrashedError('trainer process exited (signal SIGKILL)'));
  const failure = await failureOf(running);
  const details = failure.details?.[0] as ShardHeartbeat;
  assert.equal(details.batch, 3, 'where the attempt was');
  assert.deepEqual([details.attempt?.fromStep, details.attempt?.reachedStep], [0, 3]);
  assert.ok(details.ckpt && details.ckpt.epoch === 0 && details.ckpt.step >= 1 && details.ckpt.step <= 3);
  assert.deepEqual(details.ckpt, beats.filter((d) => d.ckpt).at(-1)?.ckpt, 'the newest durable checkpoint');
});

test('a stop mid-round fails as Preempted with the checkpoint it saved and a timing that reaches it', async () => {
  const { store, runs } = memoryStorage();
  const fake = fakeEngine(0, 0);
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 10_000 }, quiet);
  const running = env.run(trainShard, { store, runs, engine: fake.engine }, round0);
  while (!fake.started()) await new Promise((r) => setImmediate(r));
  fake.step();
  env.cancel('WORKER_SHUTDOWN');
  const failure = await failureOf(running);
  assert.equal(failure.type, 'Preempted');
  const details = failure.details?.[0] as ShardHeartbeat;
  assert.deepEqual([details.ckpt?.epoch, details.ckpt?.batch, details.ckpt?.step], [0, 1, 1]);
  assert.equal(details.attempt?.reachedStep, details.ckpt?.step, 'nothing past the saved checkpoint');
  assert.equal(details.batch, 1);
});

test('a resumed shard counts its recovery and the steps its failure lost, by kind', async () => {
  const { store, runs } = memoryStorage();
  // Round 1 (steps 4 to 8): the failed attempt had saved at step 6.
  const resumeFrom = await saveAt(store, shardKey('fake-run', 1, 1, 0, 6), stateAt(6));
  const counted: { recoveries: string[]; redone: [string, number][]; steps: number } = {
    recoveries: [],
    redone: [],
    steps: 0,
  };
  const metrics: MetricsRecorder = {
    ...NO_METRICS,
    withLabels: () => metrics,
    countRecovery: (kind) => counted.recoveries.push(kind),
    addStepsRedone: (kind, steps) => counted.redone.push([kind, steps]),
    addSteps: (steps) => (counted.steps += steps),
  };
  const { engine } = fakeEngine(1, 6, { auto: true });
  const env = new MockActivityEnvironment(undefined, quiet);
  const input: TrainShardInput = {
    ...round0,
    round: 1,
    global: { ...globalRef, epoch: 1, step: H },
    previous: { ...globalRef, epoch: 1, step: H },
    resumeFrom,
    attempt: 1,
    reason: 'crash',
    stepsRedone: 1,
    goodput: 0.9,
  };
  const result = (await env.run(trainShard, { store, runs, engine, metrics }, input)) as ShardResult;
  assert.deepEqual([result.attempt?.fromStep, result.attempt?.reachedStep], [6, 8]);
  assert.deepEqual(counted.recoveries, ['crash']);
  assert.deepEqual(counted.redone, [['crash', 1]]);
  assert.equal(counted.steps, 2, 'steps 7 and 8');
});
