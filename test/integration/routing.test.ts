// Routing on the real stack: a run that resumes a cpu checkpoint is routed to the cpu backend queue
// even when a wasm worker prepared it; it waits there until a cpu worker polls, then ends golden.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import type { TrainingSpecInput } from '../../src/spec';
import { TRAIN_MODEL } from '../../src/contract';
import type { TrainModel } from '../../src/contract';
import { goldenWeightsSha256, startTestWorker, testClient, testOptions } from '../helpers/training';

const taskQueue = `routing-${process.pid}`;
let client: Client;
let closeClient: () => Promise<void>;
const workers: Awaited<ReturnType<typeof startTestWorker>>[] = [];

before(async () => {
  ({ client, close: closeClient } = await testClient());
});
after(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await closeClient();
});

const spec: TrainingSpecInput = {
  task: 'synthetic',
  epochs: 1,
  seed: 23,
  batchSize: 16,
  hparams: { samples: 256 },
  checkpoint: { everyBatches: 0, everySeconds: 0 },
  recovery: { backoffSeconds: 0 },
};

test("resumeFrom goes to the checkpoint's backend queue, whoever prepared the run", async () => {
  const stamp = Date.now();
  const cpu = await startTestWorker(testOptions(taskQueue, 'cpu'));
  const first = await client.workflow.execute<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `routing-cpu-${stamp}`,
    args: [spec],
  });
  await cpu.stop();
  const wasm = await startTestWorker(testOptions(taskQueue, 'wasm'));
  workers.push(wasm);

  const resumed = { ...spec, epochs: 2, resumeFrom: first.finalCheckpoint.url };
  const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `routing-resume-${stamp}`,
    args: [resumed],
  });
  const scheduled = await waitForScheduledEpoch(handle);
  assert.equal(scheduled, cpu.route, 'the epoch waits in the cpu backend queue');
  assert.notEqual(scheduled, wasm.route);
  const { pendingActivities } = (await handle.describe()).raw;
  assert.equal(pendingActivities?.[0]?.state, 1, 'not started: no cpu worker polls yet');

  workers.push(await startTestWorker(testOptions(taskQueue, 'cpu')));
  const result = await handle.result();
  assert.equal(result.status, 'completed');
  assert.equal(result.backend, 'cpu');
  assert.equal(result.weightsSha256, await goldenWeightsSha256({ ...spec, epochs: 2 }, 'cpu'));
});

/** The task queue of the run's first scheduled epoch activity, from its history. */
async function waitForScheduledEpoch(handle: ReturnType<Client['workflow']['getHandle']>): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const events = (await handle.fetchHistory()).events ?? [];
    const epoch = events
      .map((e) => e.activityTaskScheduledEventAttributes)
      .find((a) => /Epoch$/.test(a?.activityType?.name ?? ''));
    if (epoch) return epoch.taskQueue?.name ?? '';
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no epoch activity was scheduled');
}
