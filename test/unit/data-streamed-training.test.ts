// A task that streams its training data from a dataset (src/training/streamed-train.ts): a run
// stopped mid-epoch and resumed from its decoded checkpoint ends with the weights of an
// uninterrupted run, reading only the shards it still needs; the checkpoint names the dataset
// version, and a resume against another version is refused naming both.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/checkpoint/format';
import { DatasetStore } from '../../src/data/dataset-store';
import { DatasetVersionMismatchError } from '../../src/data/errors';
import { shardOffsets, shardOfRow, streamOrder } from '../../src/data/order';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';
import { captureState } from '../../src/training/capture';
import { runSession } from '../../src/training/run-loop';
import type { RunConfig } from '../../src/training/session';
import { importMnistDataset } from '../../src/training/tasks/mnist-dataset';
import { registerStreamedMnistTasks } from '../../src/training/tasks/mnist-stream';
import { Trainer } from '../../src/training/trainer';

const SHARD_ROWS = 64;
const ROW_BYTES = 785 * 4;
const config: RunConfig = {
  task: 'mnist-mlp-stream',
  hparams: { valSize: 64, hidden: 16, dropout: 0.25 },
  seed: 5,
  batchSize: 32,
  epochs: 2,
};
let store: DatasetStore;
let trainer: Trainer;
let version: string;

before(async () => {
  registerStreamedMnistTasks();
  store = new DatasetStore(createMemoryObjectClient());
  ({ version } = await importMnistDataset(store, 'mnist', { rows: 320, shardRows: SHARD_ROWS }));
  // A window of two shards (the shuffle buffer, 512 rows, spans the whole 320 rows here, so every
  // shard is live: the window bound itself is tested in data-stream.test.ts).
  trainer = await Trainer.create({
    backend: 'cpu',
    datasets: store,
    windowBytes: 2 * SHARD_ROWS * ROW_BYTES,
  });
});

async function uninterrupted(): Promise<string> {
  const session = await trainer.openSession(config);
  await runSession(session);
  const hash = captureState(session).meta.weightsSha256;
  session.dispose();
  return hash;
}

test('a streamed run resumed mid-epoch equals the uninterrupted run, fetching only what it needs', async () => {
  const first = await trainer.openSession(config);
  const full = await runSession(first);
  const expected = captureState(first).meta.weightsSha256;
  assert.equal(full.state.meta.dataset?.version, version, 'the checkpoint names the dataset version');
  first.dispose();

  const a = await trainer.openSession(config);
  const stop = await runSession(a, { stopAtStep: 13 }); // epoch 1, batch 3
  assert.equal(stop.stopped, true);
  const saved = captureState(a);
  a.dispose();
  const decoded = decodeCheckpoint(encodeCheckpoint(saved));
  assert.deepEqual(decoded.meta.dataset, { name: 'mnist', version });
  assert.deepEqual(decoded.meta.cursor, { epoch: 1, batch: 3, step: 13, batchesPerEpoch: 10 });

  const b = await trainer.openSession(config, decoded);
  await runSession(b);
  assert.equal(captureState(b).meta.weightsSha256, expected);
  const rows = Array.from({ length: 5 }, () => SHARD_ROWS);
  const order = streamOrder(rows, { seed: 5, epoch: 1, bufferSize: 512 });
  const offsets = shardOffsets(rows);
  const needed = new Set([...order.subarray(3 * 32)].map((r) => shardOfRow(offsets, r)));
  const windows = b.parts.stream?.windows ?? [];
  assert.equal(windows.length, 1);
  assert.deepEqual(new Set(windows[0]?.stats.fetched), needed);
  b.dispose();
  assert.equal(await uninterrupted(), expected, 'the streamed run is deterministic');
});

test('a resume against another dataset version is refused naming both; unpinned, it keeps its own', async () => {
  const a = await trainer.openSession(config);
  await runSession(a, { stopAtStep: 4 });
  const saved = captureState(a);
  a.dispose();
  const other = await importMnistDataset(store, 'mnist', { rows: 256, shardRows: SHARD_ROWS });
  assert.notEqual(other.version, version);
  await assert.rejects(
    trainer.openSession({ ...config, dataset: `mnist@${other.version}` }, saved),
    (err: unknown) =>
      err instanceof DatasetVersionMismatchError &&
      err.message.includes(version) &&
      err.message.includes(other.version),
  );
  // Unpinned, the resume reads the checkpoint's version, not the new latest.
  const b = await trainer.openSession(config, saved);
  assert.equal(b.parts.stream?.binding.version, version);
  b.dispose();
  // An in-memory checkpoint cannot resume a streamed run, nor the other way round.
  assert.throws(
    () => trainer.open(config),
    /streams its training data from a dataset, which only the in-process engine reads yet/,
  );
});
