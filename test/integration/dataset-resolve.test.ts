// A run's dataset is resolved once, when it starts (brief D2): against the real stack (Temporal dev
// server, MinIO, a worker process with its trainer child), `prepareRun` turns `name@<8-hex prefix>`
// or `name` into `name@<64 hex>` (a validation dataset too: the checkpoint records both), the result
// shows that version, and a version published while the
// run trains is not read by its later epochs. An in-memory task given a dataset, an unknown prefix
// and an ambiguous prefix fail at start: no epoch activity is ever scheduled.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { after, before, test } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { TRAIN_MODEL } from '../../src/contract';
import type { TrainModel } from '../../src/contract';
import { decodeCheckpoint } from '../../src/checkpoint/format';
import { DatasetStore, manifestKey } from '../../src/data/dataset-store';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import { importMnistDataset } from '../../src/training/tasks/mnist-dataset';
import { GATE_ENV } from '../helpers/gated-task';
import { testStack } from '../helpers/stack-env';
import { testClient, testEnv } from '../helpers/training';
import { WorkerFleet, waitForEpoch } from '../helpers/worker-fleet';

const taskQueue = `dataset-resolve-${process.pid}`;
const name = `digits-resolve-${process.pid}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-dataset-resolve-'));
const gate = path.join(dir, 'gate');
const objects = createMinioObjectClient(testStack().s3);
const datasets = new DatasetStore(objects);
const hparams = { valSize: 64, hidden: 16 };
let client: Client;
let close: () => Promise<void>;
let fleet: WorkerFleet;
let first: string;
let worker: string;

before(async () => {
  ({ client, close } = await testClient());
  ({ version: first } = await importMnistDataset(datasets, name, { rows: 192, shardRows: 96 }));
  fleet = new WorkerFleet(
    {
      ...testEnv(),
      DFIT_TASK_MODULES: path.resolve('test/helpers/gated-stream-task.ts'),
      [GATE_ENV]: gate,
    },
    taskQueue,
    'test-artifacts/dataset-resolve',
  );
  worker = (await fleet.start()).identity;
});
after(async () => {
  await fleet.stopAll();
  await close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const start = (id: string, spec: Record<string, unknown>) =>
  client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `${id}-${Date.now()}`,
    args: [{ epochs: 1, seed: 5, batchSize: 16, ...spec } as never],
  });

async function savedMeta(url: string) {
  const key = new URL(url).pathname.slice(1);
  return decodeCheckpoint(new Uint8Array(await buffer(await objects.get(key)))).meta;
}
const savedDataset = async (url: string) => (await savedMeta(url)).dataset;

/** The failure's message, and the activities the run scheduled before it failed. */
async function failedAtStart(handle: WorkflowHandle): Promise<{ message: string; activities: string[] }> {
  const message = await handle.result().then(
    () => assert.fail('the run completed'),
    (err: unknown) => String((err as Error & { cause?: Error }).cause?.message ?? err),
  );
  const history = await handle.fetchHistory();
  const activities = (history.events ?? []).flatMap((e) => {
    const type = e.activityTaskScheduledEventAttributes?.activityType?.name;
    return type ? [type] : [];
  });
  return { message, activities };
}

test('name@<8-hex prefix> runs on the full version, which the result shows; so does validationDataset', async () => {
  fs.writeFileSync(gate, 'open');
  const handle = await start('resolve-prefix', {
    task: 'mnist-mlp-stream',
    hparams: { ...hparams, dataset: name },
    dataset: `${name}@${first.slice(0, 8)}`,
    validationDataset: `${name}@${first.slice(0, 12)}`, // validated on the dataset's rows, in order
  });
  const result = await handle.result();
  assert.equal(result.status, 'completed');
  assert.equal(result.dataset, `${name}@${first}`);
  const meta = await savedMeta(result.finalCheckpoint.url);
  assert.deepEqual(meta.dataset, { name, version: first });
  assert.deepEqual(meta.validationDataset, { name, version: first });
  assert.ok(Number.isFinite(result.epochs[0]?.metrics.valAccuracy), JSON.stringify(result.epochs));
});

test('a version published while the run trains is not read by its later epochs, nor by an attempt that restarts from nothing', async () => {
  fs.rmSync(gate, { force: true }); // held at 100 ms a batch: 12 batches an epoch
  const handle = await start('resolve-latest', {
    task: 'gated-mnist-mlp-stream',
    epochs: 2,
    hparams: { ...hparams, dataset: name }, // the task's own reference: latest when it starts
    checkpoint: { everyBatches: 0, everySeconds: 0 }, // no checkpoint inside an epoch
    recovery: { heartbeatTimeoutSeconds: 10, backoffSeconds: 0 },
  });
  await waitForEpoch(handle, (p) => p.details?.epoch === 0 && p.details.batch >= 1);
  const { version: second } = await importMnistDataset(datasets, name, { rows: 160, shardRows: 80 });
  assert.notEqual(second, first);
  assert.equal((await datasets.resolve(name)).version, second, 'the new version is the latest');
  // Killed before its first checkpoint, the epoch starts again from nothing: before the version was
  // resolved at start, that attempt read `latest` again.
  const [trainer] = fleet.trainerPids(worker);
  assert.ok(trainer, 'the worker runs a trainer child');
  process.kill(trainer, 'SIGKILL');
  fs.writeFileSync(gate, 'open');
  const result = await handle.result();
  assert.equal(result.status, 'completed');
  assert.equal(result.recoveries.length, 1, JSON.stringify(result.recoveries));
  assert.equal(result.epochs.length, 2);
  assert.equal(result.dataset, `${name}@${first}`);
  for (const epoch of result.epochs)
    assert.deepEqual(await savedDataset(epoch.ckpt.url), { name, version: first }, `epoch ${epoch.epoch}`);
});

test('a dataset for a task with in-memory data fails at start, with the trainer’s message', async () => {
  const started = Date.now();
  const { message, activities } = await failedAtStart(
    await start('resolve-in-memory', { task: 'synthetic', dataset: name }),
  );
  assert.match(message, /"digits-resolve-\d+" was given, but synthetic trains on its own in-memory data/);
  assert.deepEqual(activities, ['prepareRun']);
  assert.ok(Date.now() - started < 30_000, `failed after ${Date.now() - started} ms`);
});

test('an unknown or ambiguous version prefix fails at start, saying what to do', async () => {
  const unknown = [...'0123456789abcdef'].find((c) => !first.startsWith(c)) as string;
  const missing = await failedAtStart(
    await start('resolve-unknown', { task: 'mnist-mlp-stream', dataset: `${name}@${unknown.repeat(8)}` }),
  );
  assert.match(missing.message, new RegExp(`no version of ${name} starts with ${unknown.repeat(8)}`));
  assert.match(missing.message, new RegExp(`durable-fit data ls ${name}`));
  assert.deepEqual(missing.activities, ['prepareRun']);

  // Two versions sharing their first 8 hex digits (a real collision needs ~2^32 imports): manifests
  // under such keys make the listing ambiguous; resolution stops there, before reading them.
  const twin = `${name}-twin`;
  const [a, b] = [`0123abcd${'1'.repeat(56)}`, `0123abcd${'2'.repeat(56)}`];
  for (const v of [a, b]) await objects.put(manifestKey(twin, v), Buffer.from('{}'));
  const ambiguous = await failedAtStart(
    await start('resolve-ambiguous', { task: 'mnist-mlp-stream', dataset: `${twin}@0123abcd` }),
  );
  assert.match(ambiguous.message, /is ambiguous: 2 versions start with that prefix/);
  assert.ok(ambiguous.message.includes(a) && ambiguous.message.includes(b), ambiguous.message);
  assert.deepEqual(ambiguous.activities, ['prepareRun']);
});
