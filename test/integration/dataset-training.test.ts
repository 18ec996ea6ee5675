// A streamed run on the real MinIO: the mnist package's digits imported as a dataset, trained in a
// trainer child that reads its shards through the parent (it holds no S3 credentials), stopped
// mid-epoch, its state through the .ckpt codec, resumed: the weights equal the uninterrupted run's
// in-process, and the checkpoint names the dataset version.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/checkpoint/format';
import { DatasetStore } from '../../src/data/dataset-store';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import { captureState, finalizeState } from '../../src/training/capture';
import { runSession } from '../../src/training/run-loop';
import type { RunConfig } from '../../src/training/session';
import { importMnistDataset } from '../../src/training/tasks/mnist-dataset';
import { registerStreamedMnistTasks } from '../../src/training/tasks/mnist-stream';
import { Trainer } from '../../src/training/trainer';
import { TrainerProcess } from '../../src/training/trainer-process';
import { testStack } from '../helpers/stack-env';

const name = `digits-${process.pid}`;
const config: RunConfig = {
  task: 'mnist-cnn-stream',
  hparams: { valSize: 64, filters: 2, dataset: name },
  seed: 21,
  batchSize: 32,
  epochs: 2,
};
const client = createMinioObjectClient(testStack().s3);
let child: TrainerProcess;
let version: string;

before(async () => {
  registerStreamedMnistTasks();
  ({ version } = await importMnistDataset(new DatasetStore(client), name, { rows: 384, shardRows: 96 }));
  child = await TrainerProcess.start({
    backend: 'cpu',
    taskModules: [path.resolve('test/helpers/streamed-mnist-tasks.ts')],
    datasets: client,
    onStderr: () => undefined,
  });
});
after(() => child.close());

test('streamed from MinIO in the trainer child, stopped mid-epoch and resumed: the uninterrupted weights', async () => {
  const trainer = await Trainer.create({
    backend: 'cpu',
    datasets: new DatasetStore(client),
    windowBytes: 1e6,
  });
  const session = await trainer.openSession(config);
  await runSession(session);
  const expected = captureState(session).meta.weightsSha256;
  session.dispose();

  const stopped = await child.run({ config, stopAtStep: 17 }).result; // epoch 1, batch 5
  assert.equal(stopped.stopped, true);
  const saved = decodeCheckpoint(encodeCheckpoint(finalizeState(stopped.state)));
  assert.deepEqual(saved.meta.dataset, { name, version });
  const resumed = finalizeState((await child.run({ config, from: saved }).result).state);
  assert.equal(resumed.meta.weightsSha256, expected);
});
