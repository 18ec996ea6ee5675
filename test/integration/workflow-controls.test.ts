// Control paths on the real stack: `stop` while paused mid-epoch ends the run cleanly (it used to
// spin the workflow in microtasks and crash every worker), and a long run with continue-as-new
// keeps a bounded record while the bucket keeps the full per-epoch log.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import type { TrainingSpecInput } from '../../src/spec';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import { TRAIN_MODEL } from '../../src/contract';
import type { Progress, TrainModel } from '../../src/contract';
import { EPOCH_WINDOW } from '../../workflows/record-update';
import { replayFiles, saveHistories } from '../helpers/histories';
import { testStack } from '../helpers/stack-env';
import { goldenWeightsSha256, startTestRig, testOptions } from '../helpers/training';
import type { TestRig } from '../helpers/training';
import { waitForEpoch } from '../helpers/worker-fleet';
import { pollUntil, waitForStatus } from '../helpers/poll';

const taskQueue = `controls-${process.pid}`;
const historyDir = 'test-artifacts/workflow-controls/histories';
let client: Client;
let rig: TestRig;

before(async () => ({ client } = rig = await startTestRig(testOptions(taskQueue))));
after(() => rig?.stop());

test('stop while paused mid-epoch: the run ends stopped at the checkpoint it paused at', async () => {
  // The sequence: an epoch long enough that the pause lands inside it.
  const spec: TrainingSpecInput = {
    task: 'synthetic',
    epochs: 3,
    seed: 5,
    hparams: { samples: 262144, hidden: 256 },
    checkpoint: { everyBatches: 0, everySeconds: 0 },
  };
  const workflowId = `stop-paused-${Date.now()}`;
  const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId,
    args: [spec],
  });
  await waitForEpoch(handle, (p) => (p.details?.batch ?? 0) >= 5);
  await handle.signal('pause');
  await waitForStatus(handle, 'paused', 120_000);
  const paused = await handle.query<Progress>('progress');
  assert.equal(paused.lastCheckpoint?.epoch, 0, 'paused inside epoch 0');
  assert.ok((paused.lastCheckpoint?.batch ?? 0) > 0, 'at a batch boundary inside the epoch');
  await handle.signal('stop');
  await pollUntil(
    'the run closed',
    async () => {
      const { events } = await handle.fetchHistory();
      const failed = (events ?? []).find((e) => e.workflowTaskFailedEventAttributes);
      if (failed)
        throw new Error(
          `workflow task failed: ${failed.workflowTaskFailedEventAttributes?.failure?.message}`,
        );
      return (await handle.describe()).status.name !== 'RUNNING';
    },
    120_000,
  );
  const result = await handle.result();
  assert.equal(result.status, 'stopped');
  assert.deepEqual(result.finalCheckpoint, paused.lastCheckpoint);
  const { events } = await handle.fetchHistory();
  assert.deepEqual(
    (events ?? []).filter((e) => e.workflowTaskFailedEventAttributes),
    [],
    'no workflow task failed',
  );
  await assertReplays(workflowId);
});

test('24 tiny epochs with continue-as-new every 5: golden, a bounded result, the full log in the bucket', async () => {
  const spec: TrainingSpecInput = {
    task: 'synthetic',
    epochs: 24,
    seed: 9,
    batchSize: 16,
    hparams: { samples: 32, hidden: 4 },
    checkpoint: { everyBatches: 0, everySeconds: 0, keepLast: 2 },
    continueAsNewEvery: 5,
  };
  const workflowId = `bounded-${Date.now()}`;
  const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId,
    args: [spec],
  });
  const result = await client.workflow.getHandle<TrainModel>(workflowId).result();
  assert.equal(result.status, 'completed');
  assert.equal(result.weightsSha256, await goldenWeightsSha256(spec));
  assert.equal(result.epochs.length, EPOCH_WINDOW, 'the result lists the most recent epochs');
  assert.deepEqual(
    result.epochs.map((e) => e.epoch),
    Array.from({ length: EPOCH_WINDOW }, (_, i) => 24 - EPOCH_WINDOW + i),
  );
  const objects = createMinioObjectClient(testStack().s3);
  const log = (await objects.list(`${result.runName}/log/`)).map((o) => o.key).sort();
  assert.equal(log.length, 24, 'one log entry per epoch');
  assert.equal(log[0], `${result.runName}/log/epoch=000000.json`);
  const ckpts = (await objects.list(`${result.runName}/`)).filter((o) => o.key.endsWith('.ckpt'));
  assert.equal(ckpts.length, 2, 'keepLast 2 across continue-as-new');
  // Every execution in the chain started with a small carried record.
  const { executions } = await client.workflowService.listWorkflowExecutions({
    namespace: testStack().namespace,
    query: `WorkflowId = '${handle.workflowId}'`,
  });
  assert.ok((executions?.length ?? 0) >= 5, `${executions?.length} executions`);
  await assertReplays(workflowId);
});

/** The new command shapes (behind `wf.patched`) replay against the current code. */
async function assertReplays(workflowId: string): Promise<void> {
  const files = await saveHistories(client, testStack(), workflowId, historyDir);
  assert.deepEqual(await replayFiles(files), []);
}
