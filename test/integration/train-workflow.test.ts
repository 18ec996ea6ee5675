// trainModel end to end on the real Temporal dev server and MinIO, with an in-process worker.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import type { TrainingSpecInput } from '../../src/spec';
import { TRAIN_MODEL } from '../../src/contract';
import type { TrainModel } from '../../src/contract';
import { testStack } from '../helpers/stack-env';
import { goldenWeightsSha256, startTestRig, startTestWorker, testOptions } from '../helpers/training';
import type { TestRig } from '../helpers/training';

const taskQueue = `train-${process.pid}`;
let client: Client;
let rig: TestRig;

before(async () => ({ client } = rig = await startTestRig(testOptions(taskQueue))));
after(() => rig?.stop());

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
  const result = await client.workflow.execute<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId,
    args: [spec],
  });
  assert.equal(result.status, 'completed');
  assert.equal(result.epochs.length, 3);
  assert.deepEqual(result.recoveries, []);
  assert.match(
    result.finalCheckpoint.url,
    new RegExp(`^s3://durable-fit/${workflowId}-[0-9a-f]{8}/epoch=0003-step=0000024\\.ckpt$`),
  );
  assert.equal(result.weightsSha256, await goldenWeightsSha256(spec));

  const objects = createMinioObjectClient(testStack().s3);
  const keys = (await objects.list(`${result.runName}/`)).map((o) => o.key);
  for (const e of result.epochs)
    assert.ok(keys.includes(e.ckpt.url.replace('s3://durable-fit/', '')), e.ckpt.url);

  const progress = await client.workflow.getHandle(workflowId).query('progress');
  assert.equal((progress as { status: string }).status, 'completed');
});

test('secrets never reach workflow inputs, results or history', async () => {
  const { s3 } = testStack();
  const workflowId = `secrets-${Date.now()}`;
  await client.workflow.execute<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId,
    args: [{ task: 'synthetic', epochs: 1, seed: 2, checkpoint: { everyBatches: 1, everySeconds: 0 } }],
  });
  const history = JSON.stringify(await client.workflow.getHandle(workflowId).fetchHistory());
  const description = JSON.stringify((await client.workflow.getHandle(workflowId).describe()).raw);
  for (const text of [history, description]) {
    assert.ok(!text.includes(s3.secretKey), 'no secret key');
    assert.ok(!text.includes(s3.accessKey), 'no access key');
  }
  // The payloads are base64-encoded JSON in the raw history: check the decoded form too.
  const payloads = [...history.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)].map((m) =>
    Buffer.from(m[1] ?? '', 'base64').toString(),
  );
  assert.ok(
    payloads.some((p) => p.includes('synthetic')),
    'payloads were decoded',
  );
  for (const text of payloads)
    assert.ok(!text.includes(s3.secretKey) && !text.includes(s3.accessKey), text.slice(0, 80));
});

test('a fork with new hparams starts from the parent weights; a new topology is refused with the layers named', async () => {
  const parent = { task: 'synthetic', epochs: 1, seed: 6, batchSize: 16, hparams: { samples: 64 } };
  const parentResult = await client.workflow.execute<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `fork-parent-${Date.now()}`,
    args: [parent],
  });
  const child = { ...parent, epochs: 1, hparams: { samples: 64, learningRate: 0.05 } };
  const forkedFrom = { ckpt: parentResult.finalCheckpoint.url };
  const forked = await client.workflow.execute<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `fork-child-${Date.now()}`,
    args: [{ ...child, forkedFrom }],
  });
  const scratch = await goldenWeightsSha256(child);
  assert.notEqual(forked.weightsSha256, scratch, 'the fork did not start from scratch');

  const err = await client.workflow
    .execute<TrainModel>(TRAIN_MODEL, {
      taskQueue,
      workflowId: `fork-bad-${Date.now()}`,
      args: [{ ...parent, hparams: { samples: 64, hidden: 5 }, forkedFrom }],
    })
    .catch((e: unknown) => e as Error);
  assert.match(String((err as { cause?: Error }).cause?.message), /hidden/);
});

test('a user task from a task module trains through the worker and its trainer process', async () => {
  const queue = `${taskQueue}-user-task`;
  const options = { ...testOptions(queue), taskModules: [path.resolve('examples/sine-task.ts')] };
  const userWorker = await startTestWorker(options);
  try {
    const result = await client.workflow.execute<TrainModel>(TRAIN_MODEL, {
      taskQueue: queue,
      workflowId: `user-task-${Date.now()}`,
      args: [{ task: 'sine-regression', epochs: 2, seed: 1, batchSize: 16 }],
    });
    assert.equal(result.status, 'completed');
    assert.ok(result.epochs[1]?.metrics.valMae !== undefined, JSON.stringify(result.epochs[1]?.metrics));
  } finally {
    await userWorker.stop();
  }
});
