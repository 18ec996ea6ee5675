// Retention of a data-parallel run's checkpoints, end to end (real Temporal + MinIO): with keepLast 1
// a 4-round K = 2 run ends with only the last global and the shard results the next round would
// start from under <run>/parallel/, and still with the reference weights.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { ObjectRunFolder } from '../../src/checkpoint/run-folder';
import { TRAIN_MODEL } from '../../src/contract';
import type { TrainParallel } from '../../src/contract';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import { testStack } from '../helpers/stack-env';
import { startTestWorker, testClient, testOptions } from '../helpers/training';
import { referenceWeightsSha256 } from './parallel-reference';

const taskQueue = `parallel-retention-${process.pid}`;
const runs = new ObjectRunFolder(createMinioObjectClient(testStack().s3));
let client: Client;
let close: () => Promise<void>;
let worker: Awaited<ReturnType<typeof startTestWorker>>;

before(async () => {
  ({ client, close } = await testClient());
  worker = await startTestWorker(testOptions(taskQueue), { maxConcurrentTrainings: 2 });
});
after(async () => {
  await worker.stop();
  await close();
});

test('keepLast 1 on a 4-round K=2 run: the bucket keeps the last global and the last shard results; reference weights', async () => {
  // 96 samples, 2 shards of 48, batch 8: 6 shard batches per data epoch; 8 epochs = 48 steps = 4 rounds of 12.
  const runName = `parallel-keep-${process.pid}-${Date.now() % 1e6}`;
  const spec = {
    task: 'synthetic',
    runName,
    epochs: 8,
    seed: 3,
    batchSize: 8,
    hparams: { samples: 96 },
    checkpoint: { everyBatches: 5, everySeconds: 0, keepLast: 1 }, // shards save inside each round too
    parallel: { shards: 2, syncEverySteps: 12 },
  };
  const result = await client.workflow.execute<TrainParallel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: runName,
    args: [spec],
  });
  assert.equal(result.status, 'completed');
  assert.equal(result.rounds?.length, 4);
  assert.deepEqual(result.warnings ?? [], [], 'retention did not fail');
  const left = (await runs.listCkptUrlsUnder(runName, 'parallel')).map((u) => u.split('/parallel/')[1]);
  assert.deepEqual(left, [
    'round=0003/shard=00/end-try=0.ckpt',
    'round=0003/shard=01/end-try=0.ckpt',
    'round=0004/global.ckpt',
  ]);
  assert.match(result.finalCheckpoint.url, /\/parallel\/round=0004\/global\.ckpt$/);
  const reference = await referenceWeightsSha256({
    seed: 3,
    epochs: 8,
    batchSize: 8,
    samples: 96,
    shards: 2,
    syncEverySteps: 12,
  });
  assert.equal(result.weightsSha256, reference);
});
