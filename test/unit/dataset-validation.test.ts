// Validation data may be a dataset too (brief D2 item 2): a streaming task's `data.validation`, or
// RunConfig/spec `validationDataset` over it, is read in the dataset's stored order through the same
// window and transform as the training rows, takes the place of loadDataset's in-memory split, and is
// recorded in the checkpoint's meta as `validationDataset` next to `dataset` (older metas decode).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/checkpoint/format';
import { DatasetStore } from '../../src/data/dataset-store';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';
import { captureState } from '../../src/training/capture';
import { InvalidRunConfigError } from '../../src/training/errors';
import { runSession } from '../../src/training/run-loop';
import { registerTask } from '../../src/training/tasks';
import type { TaskData, TaskDefinition } from '../../src/training/tasks';
import { loadMnist } from '../../src/training/tasks/mnist-data';
import { importMnistDataset } from '../../src/training/tasks/mnist-dataset';
import { mnistMlpStreamTask } from '../../src/training/tasks/mnist-stream';
import { Trainer } from '../../src/training/trainer';

const config = {
  task: 'mnist-mlp-stream',
  hparams: { valSize: 16, hidden: 4 },
  seed: 1,
  batchSize: 16,
  epochs: 1,
  dataset: 'train-d',
};

async function setup() {
  const store = new DatasetStore(createMemoryObjectClient());
  await importMnistDataset(store, 'train-d', { rows: 64, shardRows: 32 });
  const val = await importMnistDataset(store, 'val-d', { rows: 40, shardRows: 16 });
  const trainer = await Trainer.create({ backend: 'cpu', datasets: store, windowBytes: 1e5 });
  return { store, trainer, val };
}

test('validationDataset: every row in stored order, through the task transform; bound in the meta', async () => {
  const { trainer, val } = await setup();
  const session = await trainer.openSession({ ...config, validationDataset: 'val-d' });
  try {
    const split = session.parts.dataset.validation;
    assert.equal(split.size, 40);
    const expected = loadMnist(40, 0, [784]).train; // the rows importMnistDataset wrote, in order
    assert.deepEqual(split.x, expected.x);
    assert.deepEqual(split.y, expected.y);
    const { metrics } = await runSession(session).then(() => ({ metrics: session.metrics }));
    assert.ok(Number.isFinite(metrics[0]?.valLoss), JSON.stringify(metrics));
    const state = captureState(session);
    assert.deepEqual(state.meta.validationDataset, { name: 'val-d', version: val.version });
    const decoded = decodeCheckpoint(encodeCheckpoint(state));
    assert.deepEqual(decoded.meta.validationDataset, { name: 'val-d', version: val.version });
    const { validationDataset: _dropped, ...older } = state.meta;
    assert.equal(
      decodeCheckpoint(encodeCheckpoint({ ...state, meta: older })).meta.validationDataset,
      undefined,
    );
  } finally {
    session.dispose();
  }
  const inMemory = await trainer.openSession(config);
  assert.equal(inMemory.parts.dataset.validation.size, 16, 'without one: loadDataset’s split');
  assert.equal(captureState(inMemory).meta.validationDataset, undefined);
  inMemory.dispose();
});

test("a task's data.validation names it; a resume keeps the checkpoint's version when the reference names none", async () => {
  const { store, trainer, val } = await setup();
  const declared: TaskDefinition = {
    ...mnistMlpStreamTask,
    name: 'mnist-mlp-stream-val',
    data: { ...(mnistMlpStreamTask.data as TaskData), validation: () => 'val-d' },
  };
  registerTask(declared);
  const session = await trainer.openSession({ ...config, task: declared.name });
  const state = captureState(session);
  session.dispose();
  assert.deepEqual(state.meta.validationDataset, { name: 'val-d', version: val.version });
  await importMnistDataset(store, 'val-d', { rows: 24, shardRows: 16 }); // the new latest
  const resumed = await trainer.openSession({ ...config, task: declared.name }, state);
  assert.equal(resumed.parts.dataset.validation.size, 40);
  assert.deepEqual(resumed.parts.validation, { name: 'val-d', version: val.version });
  resumed.dispose();
  const fresh = await trainer.openSession({ ...config, task: declared.name });
  assert.equal(fresh.parts.dataset.validation.size, 24, 'a fresh session reads the latest');
  fresh.dispose();
});

test('a task with in-memory data refuses a validation dataset', async () => {
  const { trainer } = await setup();
  await assert.rejects(
    trainer.openSession({ task: 'synthetic', seed: 1, batchSize: 8, epochs: 1, validationDataset: 'val-d' }),
    (err: unknown) =>
      err instanceof InvalidRunConfigError &&
      /validationDataset .*synthetic trains on its own/.test(err.message),
  );
});
