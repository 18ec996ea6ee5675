// Data-parallel rounds on wasm workers (K = 3, H = 20): the final weights equal the plain-tfjs
// reference run on the wasm backend in this process (cpu and native: parallel.slow.test.ts,
// parallel-native.slow.test.ts). wasm and cpu agree only up to the last bits, so each has its own.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { TRAIN_MODEL } from '../../src/contract';
import type { TrainParallel } from '../../src/contract';
import { startTestWorker, testClient, testOptions } from '../helpers/training';
import { referenceWeightsSha256 } from './parallel-reference';

const taskQueue = `parallel-wasm-${process.pid}`;
let client: Client;
let close: () => Promise<void>;
let worker: Awaited<ReturnType<typeof startTestWorker>>;

before(async () => {
  ({ client, close } = await testClient());
  worker = await startTestWorker(testOptions(taskQueue, 'wasm'), { maxConcurrentTrainings: 2 });
});
after(async () => {
  await worker.stop();
  await close();
});

test('K=3, H=20 on wasm: the reference’s weights, which differ from cpu’s', async () => {
  // 96 samples, 3 shards of 32, batch 8: 4 shard batches per data epoch; 20 epochs = 80 steps = 4 rounds.
  const shape = { seed: 5, epochs: 20, batchSize: 8, samples: 96, shards: 3, syncEverySteps: 20 };
  const result = await client.workflow.execute<TrainParallel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `parallel-wasm-${Date.now()}`,
    args: [
      {
        task: 'synthetic',
        epochs: shape.epochs,
        seed: shape.seed,
        batchSize: shape.batchSize,
        hparams: { samples: shape.samples },
        checkpoint: { everyBatches: 5, everySeconds: 0 },
        parallel: { shards: shape.shards, syncEverySteps: shape.syncEverySteps },
      },
    ],
  });
  assert.equal(result.status, 'completed');
  assert.equal(result.backend, 'wasm');
  assert.equal(result.rounds?.length, 4);
  const wasm = await referenceWeightsSha256({ ...shape, backend: 'wasm' });
  assert.equal(result.weightsSha256, wasm);
  const cpu = await referenceWeightsSha256({ ...shape, backend: 'cpu' });
  assert.notEqual(wasm, cpu, 'the reference really ran on wasm (the backends differ in the last bits)');
});
