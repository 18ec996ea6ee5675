/**
 * The epoch activity with a fake engine in `MockActivityEnvironment` (no server, no trainer): the
 * paths that decide what the workflow records. An epoch that ends returns its epoch-end checkpoint,
 * saved create-only with the hash it records; a shutdown mid-epoch saves at the batch boundary and
 * fails as `Preempted` carrying that checkpoint; an engine failure reaches the workflow typed.
 * The liveness paths (heartbeats before the first batch, shutdown during start-up) are in
 * epoch-liveness.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { trainEpoch } from '../../activities/epoch';
import { toActivityFailure } from '../../activities/boundary';
import type { CheckpointRef, EpochResult, HeartbeatDetails, TrainEpochInput } from '../../src/contract';
import { parseSpec } from '../../src/spec';
import type { TrainingState } from '../../src/state';
import { memoryStorage } from '../helpers/storage-ports';
import { fakeEngine as fakeEpochEngine, fakeState } from '../helpers/fake-engine';

const quiet = { logger: new DefaultLogger('ERROR') };
const BATCHES = 4;

const input: TrainEpochInput = {
  spec: parseSpec({ task: 'synthetic', epochs: 2, seed: 1, checkpoint: { everySeconds: 0 } }, 'fake-run'),
  epoch: 0,
  workflowId: 'fake-run',
};

/** The state after `batch` batches of epoch 0 (epoch 1 batch 0 once all are trained). */
const stateAt = (batch: number): TrainingState => fakeState(batch, BATCHES);

/**
 * A fake engine: trains `BATCHES` batches, one per `step()` call of the test, or on its own when
 * `auto`; `stop()` ends the job at the current batch, like the trainer at a batch boundary.
 */
const fakeEngine = (options: { auto?: boolean; fail?: Error } = {}) =>
  fakeEpochEngine({ batches: BATCHES, loss: 0.25, ...options });

test('an epoch that ends returns its epoch-end checkpoint, saved create-only with the recorded hash', async () => {
  const { store, runs } = memoryStorage();
  const { engine } = fakeEngine({ auto: true });
  const env = new MockActivityEnvironment(undefined, quiet);
  const result = (await env.run(trainEpoch, { store, runs, engine }, input)) as EpochResult;
  assert.equal(result.epoch, 0);
  assert.equal(result.ckpt.url, 's3://' + store.bucket + '/fake-run/epoch=0001-step=0000004.ckpt');
  assert.deepEqual([result.ckpt.epoch, result.ckpt.batch, result.ckpt.step], [1, 0, 4]);
  assert.equal(result.weightsSha256, stateAt(BATCHES).meta.weightsSha256);
  assert.deepEqual(result.metrics, { loss: 0.25 });
  const loaded = await store.load(result.ckpt.url, { sha256: result.ckpt.sha256 });
  assert.deepEqual(loaded.meta.cursor, stateAt(BATCHES).meta.cursor, 'the saved bytes are the end state');
});

test('a shutdown mid-epoch saves the batch-boundary state and fails as Preempted carrying it', async () => {
  const { store, runs } = memoryStorage();
  const fake = fakeEngine();
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 10_000 }, quiet);
  const running = env.run(trainEpoch, { store, runs, engine: fake.engine }, input);
  while (!fake.started()) await new Promise((r) => setImmediate(r));
  fake.step();
  fake.step();
  env.cancel('WORKER_SHUTDOWN');
  const failure = await running.then(
    () => assert.fail('a preempted epoch must not return'),
    (err: unknown) => err,
  );
  assert.ok(failure instanceof ApplicationFailure, String(failure));
  assert.equal(failure.type, 'Preempted');
  assert.equal(failure.nonRetryable, false, 'retryable: the run resumes');
  const { ckpt } = failure.details?.[0] as { ckpt: CheckpointRef };
  assert.deepEqual([ckpt.epoch, ckpt.batch, ckpt.step], [0, 2, 2], 'saved where the job stopped');
  const loaded = await store.load(ckpt.url, { sha256: ckpt.sha256 });
  assert.equal(loaded.meta.cursor.step, 2);
});

test('an engine failure reaches the workflow typed by its class, retryable as its class declares', async () => {
  class TrainerCrashedError extends Error {
    static readonly failureKind = 'transient';
    override readonly name = 'TrainerCrashedError';
  }
  const { store, runs } = memoryStorage();
  const { engine } = fakeEngine({
    fail: new TrainerCrashedError('trainer process exited with signal SIGKILL'),
  });
  const env = new MockActivityEnvironment(undefined, quiet);
  const failure = await env.run(trainEpoch, { store, runs, engine }, input).then(
    () => assert.fail('must fail'),
    (err: unknown) => toActivityFailure(err),
  );
  assert.ok(failure instanceof ApplicationFailure);
  assert.equal(failure.type, 'TrainerCrashedError');
  assert.equal(failure.nonRetryable, false);
  assert.match(failure.message, /SIGKILL/);
});

test('any failure after an intra-epoch save carries that checkpoint and the batch reached (issue 22)', async () => {
  class TrainerCrashedError extends Error {
    static readonly failureKind = 'transient';
  }
  const { store, runs } = memoryStorage();
  const fake = fakeEngine();
  const everyTwo = {
    ...input,
    spec: { ...input.spec, checkpoint: { ...input.spec.checkpoint, everyBatches: 2 } },
  };
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 400 }, quiet); // a heartbeat every 100 ms
  const saved: CheckpointRef[] = [];
  env.on('heartbeat', (d: HeartbeatDetails) => d.ckpt && saved.push(d.ckpt));
  const running = env.run(trainEpoch, { store, runs, engine: fake.engine }, everyTwo);
  while (!fake.started()) await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 3; i++) fake.step();
  while (!saved.length) await new Promise((r) => setTimeout(r, 10)); // durable, and heartbeated
  fake.fail(new TrainerCrashedError('trainer process exited (signal SIGKILL)'));
  const failure = await running.then(
    () => assert.fail('must fail'),
    (err: unknown) => err,
  );
  assert.ok(failure instanceof ApplicationFailure, String(failure));
  assert.equal(failure.type, 'TrainerCrashedError');
  const details = failure.details?.[0] as HeartbeatDetails;
  assert.equal(details.batch, 3, 'where the attempt was');
  assert.deepEqual(details.ckpt, saved.at(-1), 'the newest durable checkpoint');
  assert.ok(details.ckpt && details.ckpt.epoch === 0 && details.ckpt.batch >= 1);
  await store.load(details.ckpt.url, { sha256: details.ckpt.sha256 }); // durable and intact
});

test('the epoch-end checkpoint is heartbeated only together with the epoch result', async () => {
  const { store, runs } = memoryStorage();
  const { engine } = fakeEngine({ auto: true });
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 400 }, quiet);
  const beats: HeartbeatDetails[] = [];
  env.on('heartbeat', (d: HeartbeatDetails) => beats.push(d));
  const result = (await env.run(trainEpoch, { store, runs, engine }, input)) as EpochResult;
  const atEnd = beats.filter((d) => d.ckpt?.url === result.ckpt.url);
  assert.ok(atEnd.length >= 1, 'the epoch-end checkpoint was heartbeated');
  for (const d of atEnd) assert.deepEqual(d.finished, result);
});
