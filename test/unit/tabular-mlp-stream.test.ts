// tabular-mlp-stream (src/training/tasks/tabular-stream.ts): built in, an MLP over a dataset of
// `features` + `label` rows; it learns the linear teacher its validation rows come from, resumes
// mid-epoch to the uninterrupted weights, and refuses rows of another width or an out-of-range label.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/checkpoint/format';
import { publishArrays } from '../../src/data/arrays-import';
import { DatasetStore } from '../../src/data/dataset-store';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';
import { captureState } from '../../src/training/capture';
import { runSession } from '../../src/training/run-loop';
import type { RunConfig } from '../../src/training/session';
import { getTask, getTaskDescriptor, validateHparams } from '../../src/training/tasks';
import { teacherRows } from '../../src/training/tasks/tabular-stream';
import { Trainer } from '../../src/training/trainer';

const data = { features: 24, classes: 4, dataSeed: 7 };
const config: RunConfig = {
  task: 'tabular-mlp-stream',
  hparams: { ...data, hidden: 16, valSamples: 200, learningRate: 0.01, dataset: 'rows' },
  seed: 3,
  batchSize: 32,
  epochs: 3,
};
let store: DatasetStore;
let trainer: Trainer;

async function publish(name: string, features: number, labels: (rows: Int32Array) => Int32Array) {
  const rows = teacherRows({ ...data, features }, 640, 'train');
  await publishArrays(
    store,
    {
      name,
      columns: [
        { name: 'features', dtype: 'float32', shape: [features] },
        { name: 'label', dtype: 'int32', shape: [] },
      ],
      labelColumn: 'label',
      shardRows: 160,
    },
    {
      rows: 640,
      columns: new Map<string, Float32Array | Int32Array>([
        ['features', rows.features],
        ['label', labels(rows.labels)],
      ]),
    },
  );
}

before(async () => {
  store = new DatasetStore(createMemoryObjectClient());
  await publish('rows', 24, (labels) => labels);
  await publish('wide', 25, (labels) => labels);
  await publish('bad-labels', 24, (labels) => labels.map((l) => l + 4));
  trainer = await Trainer.create({ backend: 'cpu', datasets: store, windowBytes: 2 * 160 * 25 * 4 });
});

test('tabular-mlp-stream is built in, with its descriptor and defaults', () => {
  const task = getTask('tabular-mlp-stream');
  assert.equal(getTaskDescriptor('tabular-mlp-stream').hparams, task.hparams);
  const h = validateHparams(task, {});
  assert.deepEqual(
    { dataset: h.dataset, features: h.features, classes: h.classes, hidden: h.hidden },
    { dataset: 'tabular', features: 256, classes: 10, hidden: 32 },
  );
  assert.deepEqual(task.data?.columns, ['features', 'label']);
});

test('it learns the teacher, and a run resumed mid-epoch ends with the uninterrupted weights', async () => {
  const full = await trainer.openSession(config);
  const before = full.evaluate().valAccuracy as number;
  await runSession(full);
  const after = full.evaluate().valAccuracy as number;
  const expected = captureState(full).meta.weightsSha256;
  full.dispose();
  assert.ok(after > before + 0.2 && after > 0.6, `validation accuracy ${before} → ${after}`);

  const a = await trainer.openSession(config);
  await runSession(a, { stopAtStep: 27 }); // epoch 1, batch 7 of 20
  const saved = decodeCheckpoint(encodeCheckpoint(captureState(a)));
  a.dispose();
  assert.deepEqual(saved.meta.cursor, { epoch: 1, batch: 7, step: 27, batchesPerEpoch: 20 });
  const b = await trainer.openSession(config, saved);
  await runSession(b);
  assert.equal(captureState(b).meta.weightsSha256, expected);
  b.dispose();
});

test('rows of another width, or labels past classes, are refused with what is wrong', async () => {
  for (const [dataset, message] of [
    ['wide', /a dataset row has 25 features, the hparam features is 24/],
    ['bad-labels', /label \d+ is outside 0 … 3 \(hparam classes\)/],
  ] as const) {
    const session = await trainer.openSession({ ...config, hparams: { ...config.hparams, dataset } });
    await assert.rejects(runSession(session, { stopAtStep: 1 }), message);
    session.dispose();
  }
});
