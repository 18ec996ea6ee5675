// digits-resnet-stream (src/training/tasks/digits-resnet-stream.ts): the digits-resnet model built
// from the registry and trained on a batch streamed from a dataset; the in-memory data hparams are
// not its hparams; the stream counts the batches it handed out and the time the loop waited.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { DatasetStore } from '../../src/data/dataset-store';
import { InvalidHparamsError } from '../../src/training/errors';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';
import { runSession } from '../../src/training/run-loop';
import { getTask, getTaskDescriptor, validateHparams } from '../../src/training/tasks';
import { importMnistDataset } from '../../src/training/tasks/mnist-dataset';
import { Trainer } from '../../src/training/trainer';

let trainer: Trainer;

before(async () => {
  const store = new DatasetStore(createMemoryObjectClient());
  await importMnistDataset(store, 'digits', { rows: 64, shardRows: 32 });
  trainer = await Trainer.create({ backend: 'cpu', datasets: store });
});

test('digits-resnet-stream is registered with its descriptor and streams its hparam dataset', () => {
  const task = getTask('digits-resnet-stream');
  assert.equal(getTaskDescriptor('digits-resnet-stream').hparams, task.hparams);
  assert.deepEqual(Object.keys(task.metrics ?? {}), ['accuracy']);
  const h = validateHparams(task, {});
  assert.equal(h.dataset, 'mnist');
  assert.equal(h.width, 16);
  assert.equal(task.data?.dataset(h), 'mnist');
  assert.throws(() => validateHparams(task, { augmentCopies: 1 }), InvalidHparamsError);
});

test('digits-resnet-stream builds the resnet and trains a streamed batch', async () => {
  const session = await trainer.openSession({
    task: 'digits-resnet-stream',
    hparams: { dataset: 'digits', width: 2, valSize: 8 },
    seed: 1,
    batchSize: 8,
    epochs: 1,
  });
  try {
    assert.equal(session.parts.model.name, 'digits_resnet');
    assert.equal(session.trainSize, 64);
    let loss = NaN;
    await runSession(session, { stopAtStep: 1, onProgress: (p) => (loss = p.loss) });
    assert.equal(session.cursor.step, 1);
    assert.ok(Number.isFinite(loss), `loss ${loss}`);
    const stats = session.parts.stream?.stats;
    assert.equal(stats?.batches, 1);
    assert.ok((stats?.waitMs ?? 0) > 0 && (stats?.transformMs ?? 0) <= (stats?.waitMs ?? 0));
  } finally {
    session.dispose();
  }
});
