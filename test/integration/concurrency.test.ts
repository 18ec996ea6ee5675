// `worker --concurrency 2` (maxConcurrentTrainings 2): one worker trains two runs at once, each in
// its own trainer process (slot), and both end with their golden weights and no recovery.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { TrainingSpecInput } from '../../src/spec';
import { TRAIN_MODEL } from '../../src/contract';
import type { TrainModel } from '../../src/contract';
import { goldenWeightsSha256, startTestWorker, testClient, testOptions } from '../helpers/training';
import { pendingEpoch } from '../helpers/worker-fleet';

const taskQueue = `concurrency-${process.pid}`;
let client: Client;
let closeClient: () => Promise<void>;
let worker: Awaited<ReturnType<typeof startTestWorker>>;

before(async () => {
  ({ client, close: closeClient } = await testClient());
  worker = await startTestWorker(testOptions(taskQueue, 'wasm'), {
    maxConcurrentTrainings: 2,
    identity: 'two-slot-worker',
  });
});
after(async () => {
  await worker.stop();
  await closeClient();
});

// A is long (about 6 s on wasm alone) and B short, and B starts once A trains: B's epochs run
// inside A's epoch (checked from the histories below, so a slow start of B cannot pass silently).
const specA: TrainingSpecInput = {
  task: 'synthetic',
  epochs: 1,
  seed: 41,
  batchSize: 16,
  hparams: { samples: 49152, hidden: 256 },
  checkpoint: { everyBatches: 512, everySeconds: 0 },
  recovery: { heartbeatTimeoutSeconds: 10, backoffSeconds: 0 },
};
const specB: TrainingSpecInput = { ...specA, epochs: 2, seed: 42, hparams: { samples: 4096, hidden: 64 } };

test('a worker with two slots trains two runs at once; both end golden with no recovery', async () => {
  const stamp = Date.now();
  const first = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `concurrency-a-${stamp}`,
    args: [specA],
  });
  await waitUntil(async () => isTraining(await pendingEpoch(first)));
  const second = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `concurrency-b-${stamp}`,
    args: [specB],
  });
  const [a, b] = await Promise.all([first.result(), second.result()]);
  const spanA = await epochSpan(first);
  const spanB = await epochSpan(second);
  assert.ok(
    spanB.firstStart < spanA.lastEnd,
    `B's first epoch started (${spanB.firstStart}) while A's epoch ran (until ${spanA.lastEnd})`,
  );
  for (const [result, spec] of [
    [a, specA],
    [b, specB],
  ] as const) {
    assert.equal(result!.status, 'completed');
    assert.deepEqual(result!.recoveries, [], 'no TrainerBusyError, no recovery');
    assert.equal(result!.weightsSha256, await goldenWeightsSha256(spec, 'wasm'), 'bit-exact');
  }
});

/** When a run's first epoch activity started and its last one ended, from its history. */
async function epochSpan(handle: WorkflowHandle): Promise<{ firstStart: number; lastEnd: number }> {
  const events = (await handle.fetchHistory()).events ?? [];
  const time = (e: (typeof events)[number]) =>
    Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
  const starts = events.filter((e) => e.activityTaskStartedEventAttributes).map(time);
  const ends = events.filter((e) => e.activityTaskCompletedEventAttributes).map(time);
  // The first started activity is prepareRun; epochs follow. Both bounds are conservative.
  return { firstStart: starts[1] ?? Infinity, lastEnd: ends[ends.length - 1] ?? 0 };
}

function isTraining(p: Awaited<ReturnType<typeof pendingEpoch>>): p is NonNullable<typeof p> {
  return p !== undefined && (p.details?.batch ?? 0) > 0;
}

async function waitUntil<T>(probe: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('timed out waiting for the first run to train');
}
