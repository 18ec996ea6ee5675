/**
 * `checkpoint-now` while a save is in flight (issue 22, found by reading, item 2). The epoch's
 * control handler used to take a snapshot and hand it to a saver that drops it when busy: mid-epoch
 * the request was silently lost, and once the job had ended the dropped snapshot's rejection was
 * unhandled, which ends a Node worker. The request must be served after the save in flight, and a
 * request after the job ended must neither snapshot nor reject unhandled. The controls arrive
 * through a fake workflow client (the handler polls the `controls` query every 2 s).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Context } from '@temporalio/activity';
import { CheckpointSaver, runFolderWriter } from '../../activities/checkpoint-saver';
import type { EpochJob, EpochOutcome } from '../../activities/epoch-engine';
import { watchInterruptions } from '../../activities/epoch-interruptions';
import type { CheckpointIO } from '../../src/checkpoint/checkpoint-io';
import { ObjectCheckpointIO } from '../../src/checkpoint/object-checkpoint-io';
import type { ControlState } from '../../src/contract';
import type { TrainingState } from '../../src/state';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';
import { sampleState } from '../helpers/checkpoint-fixtures';

/** The watcher's view of an epoch attempt of workflow `run`. */
function watched(job: EpochJob) {
  return { workflowId: 'run', activityPause: true, capture: () => job.snapshot(), stoppedMessage: () => '' };
}

/** A store whose saves wait until the test lets them through. */
function heldStore() {
  const store = new ObjectCheckpointIO(createMemoryObjectClient());
  const saves: number[] = [];
  let open!: () => void;
  let gate = new Promise<void>((r) => (open = r));
  const held = {
    bucket: store.bucket,
    async save(runName: string, state: TrainingState, options?: { version?: number }) {
      saves.push(state.meta.cursor.step);
      await gate;
      return store.save(runName, state, options);
    },
  } as unknown as CheckpointIO;
  return {
    held,
    saves,
    release() {
      open();
      gate = Promise.resolve();
    },
  };
}

/** A running job at `step`; once `end()` is called its snapshots reject, as the trainer's do. */
function fakeJob() {
  let step = 10;
  let ended = false;
  let finish!: (o: EpochOutcome) => void;
  const done = new Promise<EpochOutcome>((r) => (finish = r));
  const job: EpochJob = {
    snapshot: () =>
      ended
        ? Promise.reject(new Error('the job has ended'))
        : Promise.resolve(
            sampleState({ cursor: { epoch: 0, batch: step, step: step, batchesPerEpoch: 100 } }),
          ),
    stop: () => {},
    done,
    markWarm: () => {},
  };
  return {
    job,
    advance: (n: number) => (step += n),
    end() {
      ended = true;
      finish({ stopped: false, state: sampleState() });
    },
  };
}

/** A context whose workflow answers `controls` with `state`; counts the polls. */
function fakeContext(state: ControlState) {
  const polls = { count: 0 };
  const handle = { query: async () => (polls.count++, { ...state }) };
  const ctx = {
    cancellationSignal: new AbortController().signal,
    client: { workflow: { getHandle: () => handle } },
  } as unknown as Context;
  return { ctx, polls };
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('checkpoint-now while a save is in flight is served after it, with a later snapshot', async () => {
  const store = heldStore();
  const saver = new CheckpointSaver(runFolderWriter(store.held, 'run'));
  const fake = fakeJob();
  const controls: ControlState = { paused: false, stopRequested: false, checkpointRequests: 1 };
  const { ctx, polls } = fakeContext(controls);
  const watch = watchInterruptions(ctx, watched(fake.job), fake.job, saver);
  try {
    await until(() => store.saves.length === 1, 'the first request starts a save');
    fake.advance(5);
    controls.checkpointRequests = 2; // a second request while that save is still in flight
    const seen = polls.count;
    await until(() => polls.count > seen, 'the next poll', 5000);
    store.release();
    await until(() => store.saves.length === 2, 'the second request is served');
    await saver.idle();
    assert.deepEqual(store.saves, [10, 15]);
    assert.equal(saver.latest?.step, 15);
  } finally {
    watch.dispose();
  }
});

test('checkpoint-now after the job ended: no snapshot, nothing rejected unhandled', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const store = heldStore();
  const saver = new CheckpointSaver(runFolderWriter(store.held, 'run'));
  const fake = fakeJob();
  const controls: ControlState = { paused: false, stopRequested: false, checkpointRequests: 1 };
  const { ctx, polls } = fakeContext(controls);
  const watch = watchInterruptions(ctx, watched(fake.job), fake.job, saver);
  try {
    await until(() => store.saves.length === 1, 'a save in flight');
    fake.end();
    controls.checkpointRequests = 2;
    const seen = polls.count;
    await until(() => polls.count > seen, 'the next poll', 5000);
    store.release();
    await saver.idle();
    await new Promise((r) => setTimeout(r, 50)); // let an unhandled rejection surface
    assert.deepEqual(unhandled, []);
    assert.deepEqual(store.saves, [10], 'nothing more to save once the job has ended');
  } finally {
    watch.dispose();
    process.off('unhandledRejection', onUnhandled);
  }
});
