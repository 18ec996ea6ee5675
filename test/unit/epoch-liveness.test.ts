/**
 * The epoch activity's liveness, with a fake engine: heartbeats keep coming while no batch is
 * trained (slow start-up, long epoch-end work), and a shutdown during start-up ends the attempt at
 * once as a preemption that loses nothing (issue 10 items 15 and 17).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { trainEpoch } from '../../activities/epoch';
import type { EpochEngine, EpochJob, EpochRequest } from '../../activities/epoch-engine';
import type { HeartbeatDetails, TrainEpochInput } from '../../src/contract';
import { ObjectRunFolder } from '../../src/checkpoint/run-folder';
import { parseSpec } from '../../src/spec';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';
import { memoryStorage, storageOver } from '../helpers/storage-ports';

const quiet = { logger: new DefaultLogger('ERROR') };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An engine whose `start` resolves only when the test says so; records what happened to its job. */
function gatedEngine() {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const events: string[] = [];
  const engine: EpochEngine = {
    backend: async () => 'fake',
    backendInfo: async () => ({ name: 'fake', versions: {} }),
    isWarm: () => false,
    close: async () => {},
    async start(_request: EpochRequest): Promise<EpochJob> {
      events.push('start called');
      await gate;
      events.push('job started');
      let finish!: () => void;
      const done = new Promise<never>((_resolve, reject) => (finish = () => reject(new Error('stopped'))));
      return {
        snapshot: () => Promise.reject(new Error('no snapshots here')),
        stop: () => {
          events.push('job stopped');
          finish();
        },
        done,
        markWarm: () => {},
      };
    },
  };
  return { engine, release, events };
}

const input: TrainEpochInput = {
  spec: parseSpec({ task: 'synthetic', epochs: 1, seed: 1 }, 'liveness'),
  epoch: 0,
  workflowId: 'liveness',
};

test('heartbeats flow on a timer while the epoch has not trained a single batch', async () => {
  const { engine, release } = gatedEngine();
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 400 }, quiet);
  const beats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => beats.push(d));
  const running = env.run(trainEpoch, { ...memoryStorage(), engine }, input);
  running.catch(() => undefined);
  await sleep(1200);
  assert.ok(beats.length >= 8, `${beats.length} heartbeats in 1.2 s with a 400 ms timeout`);
  const { attempt, ...last } = beats.at(-1) as HeartbeatDetails;
  assert.deepEqual(last, { epoch: 0, batch: 0, batches: 0, loss: NaN, ckpt: undefined });
  assert.equal(attempt?.reachedStep, 0, 'the attempt reports it has trained nothing yet');
  assert.equal(attempt?.trainMs, 0);
  env.cancel();
  release();
  await assert.rejects(running);
  const after = beats.length;
  await sleep(500);
  assert.equal(beats.length, after, 'no heartbeat after the activity ended');
});

test('a shutdown while the engine starts fails the attempt at once as a preemption; the late job is stopped', async () => {
  const { engine, release, events } = gatedEngine();
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 10_000 }, quiet);
  const running = env.run(trainEpoch, { ...memoryStorage(), engine }, input);
  while (!events.includes('start called')) await sleep(5);
  env.cancel('WORKER_SHUTDOWN');
  await assert.rejects(running, (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'Preempted');
    assert.equal(err.nonRetryable, false);
    assert.match(err.message, /before training began .*nothing was lost/);
    return true;
  });
  assert.deepEqual(events, ['start called'], 'the activity did not wait for the slow start');
  release();
  await sleep(20);
  assert.deepEqual(events, ['start called', 'job started', 'job stopped']);
});

test('an activity cancelled before it began never starts the engine', async () => {
  const { engine, events } = gatedEngine();
  const env = new MockActivityEnvironment(undefined, quiet);
  env.cancel('WORKER_SHUTDOWN');
  await assert.rejects(env.run(trainEpoch, { ...memoryStorage(), engine }, input), /before training began/);
  await sleep(20);
  assert.ok(!events.includes('job started') || events.includes('job stopped'), events.join(', '));
});

test('a resume aborts the run folder’s leftover uploads before its engine starts', async () => {
  const { engine, release, events } = gatedEngine();
  const calls: string[] = [];
  class RecordingFolder extends ObjectRunFolder {
    override async abortIncompleteUploads(runName: string): Promise<number> {
      calls.push(`abort ${runName} (${events.length ? 'after' : 'before'} the engine start)`);
      return 2;
    }
  }
  const recording = () => {
    const objects = createMemoryObjectClient();
    return { ...storageOver(objects), runs: new RecordingFolder(objects) };
  };
  const env = new MockActivityEnvironment(undefined, quiet);
  const resume = { ...input, ckptPath: '', reason: 'crash' as const };
  const running = env.run(trainEpoch, { ...recording(), engine, log: () => {} }, resume);
  while (!events.includes('start called')) await sleep(5);
  assert.deepEqual(calls, ['abort liveness (before the engine start)']);
  env.cancel();
  release();
  await assert.rejects(running);
  calls.length = 0;
  const second = gatedEngine();
  const plain = new MockActivityEnvironment(undefined, quiet);
  const train = plain.run(trainEpoch, { ...recording(), engine: second.engine }, input);
  while (!second.events.includes('start called')) await sleep(5);
  assert.deepEqual(calls, [], 'a first attempt has no earlier attempt to clean up after');
  plain.cancel();
  second.release();
  await assert.rejects(train);
});
