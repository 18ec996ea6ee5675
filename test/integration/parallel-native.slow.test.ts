// Data-parallel rounds on native TensorFlow workers (K = 3, H = 20), eager and graph-mode: the final
// weights equal the plain-tfjs reference run on native TensorFlow in this process, with the trainer's
// pinned TF_* settings (without dropout, graph-mode steps give eager's bits). Skipped locally when native TensorFlow is not built; in CI it fails instead.
import assert from 'node:assert/strict';
import os from 'node:os';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { TRAIN_MODEL } from '../../src/contract';
import type { TrainParallel } from '../../src/contract';
import { skipUnlessNative } from '../helpers/native';
import { startTestWorker, testClient, testOptions } from '../helpers/training';
import { referenceWeightsSha256 } from './parallel-reference';

// What the trainer process pins (src/training/native-runtime.ts): the reference must use the same.
const NATIVE_ENV = {
  TF_DETERMINISTIC_OPS: '1',
  TF_ENABLE_ONEDNN_OPTS: '1',
  TF_NUM_INTEROP_THREADS: '1',
  TF_NUM_INTRAOP_THREADS: String(Math.max(1, os.availableParallelism())),
  TF_CPP_MIN_LOG_LEVEL: '2',
};

for (const backend of ['tensorflow', 'tensorflow-graph'] as const) describeBackend(backend);

function describeBackend(backend: 'tensorflow' | 'tensorflow-graph'): void {
  describe(`data-parallel rounds on native TensorFlow (${backend})`, { skip: skipUnlessNative() }, () => {
    const taskQueue = `parallel-native-${backend}-${process.pid}`;
    let client: Client;
    let closeClient: () => Promise<void>;
    let worker: Awaited<ReturnType<typeof startTestWorker>>;

    before(async () => {
      for (const [key, value] of Object.entries(NATIVE_ENV)) process.env[key] ??= value;
      ({ client, close: closeClient } = await testClient());
      worker = await startTestWorker(testOptions(taskQueue, backend), { maxConcurrentTrainings: 2 });
    });
    after(async () => {
      await worker.stop();
      await closeClient();
    });

    test('K=3, H=20 on native: the reference’s weights', async () => {
      const spec = {
        task: 'synthetic',
        epochs: 20,
        seed: 5,
        batchSize: 8,
        hparams: { samples: 96 },
        checkpoint: { everyBatches: 5, everySeconds: 0 },
        parallel: { shards: 3, syncEverySteps: 20 },
      };
      const result = await client.workflow.execute<TrainParallel>(TRAIN_MODEL, {
        taskQueue,
        workflowId: `parallel-native-${Date.now()}`,
        args: [spec],
      });
      assert.equal(result.backend, backend);
      const reference = await referenceWeightsSha256({
        seed: 5,
        epochs: 20,
        batchSize: 8,
        samples: 96,
        shards: 3,
        syncEverySteps: 20,
        backend,
      });
      assert.equal(result.weightsSha256, reference);
    });
  });
}
