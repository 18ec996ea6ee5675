// Faults while a run streams: a shard whose bytes changed is refused naming its key (never skipped),
// and a failed fetch surfaces as DatasetFetchError, a transient (infrastructure) failure the
// activity retries from its last checkpoint.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { classifyError } from '../../src/failure-kind';
import { DatasetStore, shardKey } from '../../src/data/dataset-store';
import { DatasetFetchError, ShardIntegrityError } from '../../src/data/errors';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';
import type { ObjectClient } from '../../src/storage/object-client';
import { runSession } from '../../src/training/run-loop';
import type { RunConfig } from '../../src/training/session';
import { importMnistDataset } from '../../src/training/tasks/mnist-dataset';
import { registerStreamedMnistTasks } from '../../src/training/tasks/mnist-stream';
import { Trainer } from '../../src/training/trainer';

const config: RunConfig = {
  task: 'mnist-mlp-stream',
  hparams: { valSize: 32, hidden: 8 },
  seed: 1,
  batchSize: 32,
  epochs: 1,
};
const memory = createMemoryObjectClient();
let version: string;

before(async () => {
  registerStreamedMnistTasks();
  ({ version } = await importMnistDataset(new DatasetStore(memory), 'mnist', { rows: 128, shardRows: 64 }));
});

async function train(client: ObjectClient) {
  const trainer = await Trainer.create({ backend: 'cpu', datasets: new DatasetStore(client) });
  const session = await trainer.openSession(config);
  try {
    await runSession(session);
  } finally {
    session.dispose();
  }
}

test('a failed shard fetch is a transient DatasetFetchError naming the key', async () => {
  const key = shardKey('mnist', version, 'shard-00001.parquet');
  const failing: ObjectClient = {
    ...memory,
    get: (k: string) => (k === key ? Promise.reject(new Error('connect ECONNREFUSED')) : memory.get(k)),
  };
  await assert.rejects(train(failing), (err: unknown) => {
    assert.ok(err instanceof DatasetFetchError, String(err));
    assert.match(err.message, new RegExp(`could not read dataset object ${key}: connect ECONNREFUSED`));
    assert.equal(classifyError(err).kind, 'transient');
    return true;
  });
});

test('a shard whose bytes changed stops the run naming its key, permanently', async () => {
  const key = shardKey('mnist', version, 'shard-00000.parquet');
  const stored = memory.objects.get(key);
  assert.ok(stored);
  const original = stored.body;
  const body = Buffer.from(original);
  body.writeUInt8(body.readUInt8(100) ^ 1, 100);
  stored.body = body;
  try {
    await assert.rejects(train(memory), (err: unknown) => {
      assert.ok(err instanceof ShardIntegrityError, String(err));
      assert.ok(err.message.includes(key));
      assert.equal(classifyError(err).kind, 'permanent');
      return true;
    });
  } finally {
    stored.body = original;
  }
});
