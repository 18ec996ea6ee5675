/**
 * The warm trainer end to end (real Temporal and MinIO, an in-process worker with trainer children):
 * a normal run starts its trainer session once and every later epoch adopts the speculative
 * continuation; after a fallback to an older checkpoint the continuation is discarded and the epoch
 * restores from verified bytes. Both end with the golden weights, on cpu and on native TensorFlow
 * where it is built.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import type { EpochEngine, EpochJob } from '../../activities/epoch-engine';
import { createProcessEngine } from '../../activities/process-engine';
import { CheckpointCorruptError } from '../../src/checkpoint/errors';
import { TRAIN_MODEL } from '../../src/contract';
import type { TrainingResult, TrainModel } from '../../src/contract';
import type { TrainingSpecInput } from '../../src/spec';
import type { BackendRequest } from '../../src/training/backend';
import { skipUnlessNative } from '../helpers/native';
import { goldenWeightsSha256, startTestWorker, testClient, testOptions } from '../helpers/training';

type Began = NonNullable<EpochJob['began']>;

/** The process engine, recording how each epoch began; `failOnce(epoch)` fails one start of it. */
function recordingEngine(backend: BackendRequest) {
  const inner = createProcessEngine({ backend });
  const began: { epoch: number; how: Began | 'failed' }[] = [];
  let failAt: number | undefined;
  const engine: EpochEngine = {
    ...inner,
    async start(request) {
      if (request.epoch === failAt) {
        failAt = undefined;
        began.push({ epoch: request.epoch, how: 'failed' });
        // What a damaged starting checkpoint looks like: the workflow falls back to an older one.
        throw new CheckpointCorruptError('hash-mismatch', 'injected by the test', request.from?.url);
      }
      const job = await inner.start(request);
      began.push({ epoch: request.epoch, how: job.began ?? 'restored' });
      return job;
    },
  };
  return {
    engine,
    began,
    failOnce(epoch: number) {
      failAt = epoch;
    },
  };
}

const spec: TrainingSpecInput = {
  task: 'synthetic',
  epochs: 4,
  seed: 17,
  batchSize: 16,
  hparams: { samples: 160, dropout: 0.2 },
  checkpoint: { everyBatches: 0, everySeconds: 0 },
  recovery: { backoffSeconds: 0 },
};

for (const backend of ['cpu', 'tensorflow', 'tensorflow-graph'] as const) {
  describe(
    `warm trainer on ${backend}`,
    { skip: backend.startsWith('tensorflow') ? skipUnlessNative() : false },
    () => {
      const taskQueue = `warm-${backend}-${process.pid}`;
      let client: Client;
      let closeClient: () => Promise<void>;
      let worker: Awaited<ReturnType<typeof startTestWorker>>;
      let recording: ReturnType<typeof recordingEngine>;
      let golden: string;

      before(async () => {
        golden = await goldenWeightsSha256(spec, backend);
        ({ client, close: closeClient } = await testClient());
        recording = recordingEngine(backend);
        worker = await startTestWorker(testOptions(taskQueue, backend), { engine: recording.engine });
      });
      after(async () => {
        await worker?.stop();
        await closeClient?.();
      });

      let normal: TrainingResult;

      test('a normal run starts its trainer session once; every later epoch adopts the continuation', async () => {
        recording.began.length = 0;
        normal = await client.workflow.execute<TrainModel>(TRAIN_MODEL, {
          taskQueue,
          workflowId: `warm-normal-${backend}-${Date.now()}`,
          args: [spec],
        });
        assert.equal(normal.status, 'completed');
        assert.deepEqual(recording.began, [
          { epoch: 0, how: 'fresh' },
          { epoch: 1, how: 'adopted' },
          { epoch: 2, how: 'adopted' },
          { epoch: 3, how: 'adopted' },
        ]);
        assert.equal(normal.weightsSha256, golden);
      });

      test('after a fallback to an older checkpoint the continuation is discarded; still golden', async () => {
        recording.began.length = 0;
        recording.failOnce(2);
        const result = await client.workflow.execute<TrainModel>(TRAIN_MODEL, {
          taskQueue,
          workflowId: `warm-fallback-${backend}-${Date.now()}`,
          args: [spec],
        });
        assert.equal(result.status, 'completed');
        assert.deepEqual(
          result.recoveries.map((r) => [r.kind, r.atEpoch]),
          [['fallback', 2]],
        );
        assert.deepEqual(recording.began, [
          { epoch: 0, how: 'fresh' },
          { epoch: 1, how: 'adopted' },
          { epoch: 2, how: 'failed' },
          // The warm session is the end of epoch 1 (training epoch 2); the workflow asks for the end
          // of epoch 0: discarded, restored from the verified bytes.
          { epoch: 1, how: 'restored' },
          { epoch: 2, how: 'adopted' },
          { epoch: 3, how: 'adopted' },
        ]);
        assert.equal(result.weightsSha256, golden);
        assert.deepEqual(
          result.epochs.map((e) => e.weightsSha256),
          normal.epochs.map((e) => e.weightsSha256),
          'every epoch-end checkpoint holds the weights of the normal run',
        );
      });
    },
  );
}
