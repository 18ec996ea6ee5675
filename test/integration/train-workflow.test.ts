// trainModel end to end on the real Temporal dev server and MinIO, with an in-process worker.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import type { TrainingSpecInput } from '../../src/spec';
import type { TrainingResult } from '../../workflows/run-record';
import { testStack } from '../helpers/stack-env';
import { goldenWeightsSha256, startTestWorker, testClient, testOptions } from '../helpers/training';

const taskQueue = `train-${process.pid}`;
let client: Client;
let closeClient: () => Promise<void>;
let worker: Awaited<ReturnType<typeof startTestWorker>>;

before(async () => {
  ({ client, close: closeClient } = await testClient());
  worker = await startTestWorker(testOptions(taskQueue));
});
after(async () => {
  await worker.stop();
  await closeClient();
});

test('a run trains every epoch, records each .ckpt, and ends with the golden weights', async () => {
  const spec: TrainingSpecInput = {
    task: 'synthetic',
    epochs: 3,
    seed: 11,
    batchSize: 16,
    hparams: { samples: 128 },
    checkpoint: { everyBatches: 3, everySeconds: 0, keepLast: 0 },
  };
  const workflowId = `train-ok-${Date.now()}`;
  const result = (await client.workflow.execute('trainModel', {
    taskQueue,
    workflowId,
    args: [spec],
  })) as TrainingResult;
  assert.equal(result.status, 'completed');
  assert.equal(result.epochs.length, 3);
  assert.deepEqual(result.recoveries, []);
  assert.match(
    result.finalCheckpoint.url,
    new RegExp(`^s3://durable-fit/${workflowId}/epoch=0003-step=0000024\\.ckpt$`),
  );
  assert.equal(result.weightsSha256, await goldenWeightsSha256(spec));

  const objects = createMinioObjectClient(testStack().s3);
  const keys = (await objects.list(`${workflowId}/`)).map((o) => o.key);
  for (const e of result.epochs)
    assert.ok(keys.includes(e.ckpt.url.replace('s3://durable-fit/', '')), e.ckpt.url);

  const progress = await client.workflow.getHandle(workflowId).query('progress');
  assert.equal((progress as { status: string }).status, 'completed');
});
