/**
 * The one attempt loop (activities/attempt.ts) that epochs and shards both run, with a fake engine
 * and a fake workflow client in `MockActivityEnvironment`: the same rules for both kinds. A
 * checkpoint-now that arrives while a save is in flight is saved right after it, at the step
 * reached then (never dropped); a failed background save stops the attempt as an infrastructure
 * failure carrying the newest durable checkpoint; a shutdown before training began is a preemption
 * that loses nothing (a shard's used to count as an infrastructure failure); and a shard attempt
 * reports steps, loss and checkpoint I/O as an epoch attempt does.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { trainEpoch } from '../../activities/epoch';
import { saveAt, shardKey } from '../../activities/parallel-keys';
import { trainShard } from '../../activities/shard';
import type { ControlState, TrainEpochInput, TrainShardInput } from '../../src/contract';
import type { MetricsRecorder } from '../../src/metrics/recorder';
import { NO_METRICS } from '../../src/metrics/recorder';
import { parseSpec } from '../../src/spec';
import type { TrainingState } from '../../src/state';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';
import { memoryStorage, storageOver } from '../helpers/storage-ports';
import { fakeEngine as fakeEpochEngine, fakeState } from '../helpers/fake-engine';

const quiet = new DefaultLogger('ERROR');
/** Batches per epoch (a shard: steps per round). */
const B = 4;

const epochInput: TrainEpochInput = {
  spec: parseSpec({ task: 'synthetic', epochs: 2, seed: 1, checkpoint: { everyBatches: 1 } }, 'fake-run'),
  epoch: 0,
  workflowId: 'fake-run',
  checkpointRequestsServed: 0,
};

const ref = { url: 's3://unused/g.ckpt', sha256: '0'.repeat(64), bytes: 1, epoch: 0, batch: 0, step: 0 };
const shardInput: TrainShardInput = {
  spec: parseSpec(
    {
      task: 'synthetic',
      epochs: 2,
      seed: 1,
      checkpoint: { everyBatches: 1 },
      parallel: { shards: 2, syncEverySteps: B },
    },
    'fake-run',
  ),
  workflowId: 'fake-run',
  round: 0,
  rounds: 2,
  shard: 1,
  global: ref,
  attempt: 0,
  checkpointRequestsServed: 0,
};

/**
 * `saved`: the keys' steps after a checkpoint-now at step 3. An epoch's policy also saves at its
 * last batch (that save and the epoch-end save meet at one key: the end save adopts it); a shard's
 * does not (its round end goes to its own key).
 */
const kinds = [
  { kind: 'epoch', run: trainEpoch, input: epochInput, saved: ['1', '3', '4', '4'] },
  { kind: 'shard', run: trainShard, input: shardInput, saved: ['1', '3', 'end'] },
] as const;

const stateAt = (step: number): TrainingState => fakeState(step, B);

/**
 * Trains epoch (round) `epoch` from `from` one batch per `step()`, or on its own when `auto`. Its
 * `start` answers only once `begin()` is called when `held`.
 */
const fakeEngine = (epoch: number, from: number, auto = false, held = false) =>
  fakeEpochEngine({ batches: B, epoch, from, auto, held });

/**
 * Object writes that wait until `release()`, or are refused while `refused`; `puts` names each key
 * written to, `written` each one written.
 */
function gatedObjects() {
  const memory = createMemoryObjectClient();
  const puts: string[] = [];
  const written: string[] = [];
  let open!: () => void;
  const state = { refused: false, gate: new Promise<void>((r) => (open = r)) };
  const objects: typeof memory = {
    ...memory,
    async put(key, body, options) {
      puts.push(key);
      await state.gate;
      if (state.refused) throw new Error('connect ECONNREFUSED 127.0.0.1:9000');
      await memory.put(key, body, options);
      written.push(key);
    },
  };
  return { objects, puts, written, state, release: () => open() };
}

/** A workflow client whose `controls` query answers `controls`; counts the polls. */
function fakeClient(controls: ControlState) {
  const polls = { count: 0 };
  const handle = { query: async () => (polls.count++, { ...controls }), signal: async () => {} };
  const client = {
    workflow: { getHandle: () => handle },
    withAbortSignal: <T>(_signal: AbortSignal, fn: () => Promise<T>) => fn(),
  } as unknown as Client;
  return { client, polls };
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The step in a checkpoint key (`end` for a shard's round-end key). */
const stepOf = (key: string) => /step=0*(\d+)/.exec(key)?.[1] ?? (/end-try/.test(key) ? 'end' : key);

for (const { kind, run, input, saved } of kinds) {
  test(`${kind}: a checkpoint-now during an in-flight save is saved right after it, at the step then`, async () => {
    const gated = gatedObjects();
    const { store, runs } = storageOver(gated.objects);
    const fake = fakeEngine(0, 0);
    const controls: ControlState = { paused: false, stopRequested: false, checkpointRequests: 0 };
    const { client, polls } = fakeClient(controls);
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 10_000 }, { logger: quiet, client });
    const running = (env.run as (...a: unknown[]) => Promise<unknown>)(
      run,
      { store, runs, engine: fake.engine },
      input,
    );
    await until(fake.started, 'the engine starts');
    fake.step(); // the policy (every batch) saves step 1: held in flight
    await until(() => gated.puts.length === 1, 'the policy save is in flight');
    fake.step();
    fake.step(); // the policy skips these while busy
    controls.checkpointRequests = 1;
    const seen = polls.count;
    await until(() => polls.count > seen, 'a poll after the request', 5000);
    await new Promise((r) => setTimeout(r, 20)); // its answer handled
    gated.release();
    await until(() => gated.written.length === 2, 'the request is served after the save in flight');
    fake.step(); // the end of the epoch (round)
    await running;
    const checkpoints = gated.puts.filter((key) => key.endsWith('.ckpt'));
    assert.deepEqual(checkpoints.map(stepOf), saved, 'the request saved the state of then, after the first');
  });

  test(`${kind}: a failed background save stops the attempt, carrying the newest durable checkpoint`, async () => {
    const gated = gatedObjects();
    gated.release();
    const { store, runs } = storageOver(gated.objects);
    const fake = fakeEngine(0, 0);
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 10_000 }, { logger: quiet });
    const running = (env.run as (...a: unknown[]) => Promise<unknown>)(
      run,
      { store, runs, engine: fake.engine, log: () => {} },
      input,
    );
    await until(fake.started, 'the engine starts');
    fake.step();
    await until(() => gated.written.length === 1, 'the first save');
    gated.state.refused = true;
    fake.step(); // its save is refused: the job is stopped at the next boundary
    const failure = await running.then(
      () => assert.fail('the attempt must stop'),
      (err: unknown) => err,
    );
    assert.ok(failure instanceof ApplicationFailure, String(failure));
    assert.equal(failure.nonRetryable, false);
    assert.match(failure.message, /a checkpoint save failed, so training stopped/);
    const details = failure.details?.[0] as { ckpt?: { step: number } };
    assert.equal(details.ckpt?.step, 1, 'the newest durable checkpoint');
  });

  test(`${kind}: a shutdown while the engine starts is a preemption; the late job is stopped`, async () => {
    const { store, runs } = memoryStorage();
    const fake = fakeEngine(0, 0, false, true);
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 10_000 }, { logger: quiet });
    const running = (env.run as (...a: unknown[]) => Promise<unknown>)(
      run,
      { store, runs, engine: fake.engine },
      input,
    );
    await until(fake.started, 'the engine is starting');
    env.cancel('WORKER_SHUTDOWN');
    const failure = await running.then(
      () => assert.fail('the attempt must not train'),
      (err: unknown) => err,
    );
    assert.ok(failure instanceof ApplicationFailure, String(failure));
    assert.equal(failure.type, 'Preempted');
    assert.match(failure.message, /before training began/);
    assert.deepEqual(failure.details, [{ ckpt: undefined }], 'nothing new: the run resumes where it was');
    fake.begin();
    await until(fake.stopped, 'the job that started late is stopped');
  });
}

test('a shard attempt reports steps, loss and checkpoint loads and saves, as an epoch does', async () => {
  const { store, runs } = memoryStorage();
  const resumeFrom = await saveAt(store, shardKey('fake-run', 1, 1, 0, 5), stateAt(5));
  const seen = { steps: 0, loss: [] as number[], io: [] as string[] };
  const metrics: MetricsRecorder = {
    ...NO_METRICS,
    withLabels: () => metrics,
    addSteps: (steps) => (seen.steps += steps),
    setLoss: (loss) => seen.loss.push(loss),
    observeCheckpoint: (op, bytes) => seen.io.push(`${op}:${bytes > 0}`),
  };
  const { engine } = fakeEngine(1, 5, true);
  const env = new MockActivityEnvironment(undefined, { logger: quiet });
  const input: TrainShardInput = { ...shardInput, round: 1, resumeFrom, attempt: 1, reason: 'crash' };
  await env.run(trainShard, { store, runs, engine, metrics }, input);
  assert.equal(seen.steps, 3, 'steps 6, 7 and 8');
  assert.deepEqual(seen.loss, [1 / 6, 1 / 7, 1 / 8]);
  assert.equal(seen.io[0], 'load:true', 'the resume checkpoint’s download');
  // Policy saves after steps 6 and 7 (none at the round's last batch: the round end is saved apart).
  assert.ok(seen.io.filter((o) => o === 'save:true').length >= 2, seen.io.join(', '));
});
