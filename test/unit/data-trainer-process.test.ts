// Streaming in the trainer child process: the child holds no S3 credentials, so the parent reads the
// dataset's objects for it (datasets/… only). A run there trains the same weights as the in-process
// engine, and resumes mid-epoch to them; without a dataset reader the child refuses the task.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { DatasetStore } from '../../src/data/dataset-store';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';
import { captureState, finalizeState } from '../../src/training/capture';
import { serveDatasetRead } from '../../src/training/ipc-object-client';
import { runSession } from '../../src/training/run-loop';
import type { RunConfig } from '../../src/training/session';
import { importMnistDataset } from '../../src/training/tasks/mnist-dataset';
import { registerStreamedMnistTasks } from '../../src/training/tasks/mnist-stream';
import { Trainer } from '../../src/training/trainer';
import { TrainerProcess } from '../../src/training/trainer-process';

const client = createMemoryObjectClient();
const taskModules = [path.resolve('test/helpers/streamed-mnist-tasks.ts')];
const config: RunConfig = {
  task: 'mnist-mlp-stream',
  hparams: { valSize: 32, hidden: 8 },
  seed: 9,
  batchSize: 32,
  epochs: 2,
};
let child: TrainerProcess;

before(async () => {
  registerStreamedMnistTasks();
  await importMnistDataset(new DatasetStore(client), 'mnist', { rows: 192, shardRows: 64 });
  child = await TrainerProcess.start({
    backend: 'cpu',
    taskModules,
    datasets: client,
    onStderr: () => undefined,
  });
});
after(() => child.close());

test('the child streams through the parent and matches the in-process engine, resumed mid-epoch too', async () => {
  const trainer = await Trainer.create({ backend: 'cpu', datasets: new DatasetStore(client) });
  const session = await trainer.openSession(config);
  await runSession(session);
  const expected = captureState(session).meta.weightsSha256;
  session.dispose();

  const whole = finalizeState((await child.run({ config }).result).state);
  assert.equal(whole.meta.weightsSha256, expected);
  assert.equal(whole.meta.dataset?.name, 'mnist');

  const stopped = await child.run({ config, stopAtStep: 8 }).result; // epoch 1, batch 2
  assert.equal(stopped.stopped, true);
  const from = finalizeState(stopped.state);
  const resumed = finalizeState((await child.run({ config, from }).result).state);
  assert.equal(resumed.meta.weightsSha256, expected);
});

test('without a dataset reader the child refuses the task; the parent serves datasets/ only', async () => {
  const bare = await TrainerProcess.start({ backend: 'cpu', taskModules, onStderr: () => undefined });
  try {
    await assert.rejects(
      bare.run({ config }).result,
      /streams dataset mnist: this trainer has no dataset store/,
    );
  } finally {
    await bare.close();
  }
  await assert.rejects(
    serveDatasetRead(client, 'run-1/epoch=0001-step=0000010.ckpt'),
    /only dataset objects/,
  );
  await assert.rejects(serveDatasetRead(undefined, 'datasets/mnist/latest'), /no dataset bucket/);
});
