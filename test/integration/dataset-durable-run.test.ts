// A durable run of a streamed task (issue 23): the mnist digits imported as a dataset into the test
// MinIO, trained by a real worker whose trainer child reads the shards through the worker (it holds
// no S3 credentials). The trainer is SIGKILLed mid-epoch after checkpoints of that epoch were
// durable; the run resumes from the newest of them, at the exact sample (the same weights as an
// uninterrupted in-process run), and its checkpoints name the dataset version. Batches are held at
// 100 ms while the gate file is missing, so the kill lands mid-epoch on any machine.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import { buffer } from 'node:stream/consumers';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { TRAIN_MODEL } from '../../src/contract';
import type { TrainModel } from '../../src/contract';
import { decodeCheckpoint } from '../../src/checkpoint/format';
import { DatasetStore } from '../../src/data/dataset-store';
import type { TrainingSpecInput } from '../../src/spec';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import { finalizeState } from '../../src/training/capture';
import { runSession } from '../../src/training/run-loop';
import { importMnistDataset } from '../../src/training/tasks/mnist-dataset';
import { Trainer } from '../../src/training/trainer';
import { GATE_ENV } from '../helpers/gated-task';
import { assertLedgerConsistent, assertResumedFromNewest, resumePoints } from '../helpers/resume-point';
import { testStack } from '../helpers/stack-env';
import { testClient, testEnv } from '../helpers/training';
import { WorkerFleet, waitForEpoch } from '../helpers/worker-fleet';

const taskQueue = `dataset-durable-${process.pid}`;
const name = `digits-durable-${process.pid}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-dataset-durable-'));
const gate = path.join(dir, 'gate');
const everyBatches = 4;
const objects = createMinioObjectClient(testStack().s3);
const hparams = { valSize: 64, hidden: 16, dataset: name };
// 384 rows in 4 shards, 24 batches an epoch: 2.4 s per epoch while held.
const spec: TrainingSpecInput = {
  task: 'gated-mnist-mlp-stream',
  epochs: 2,
  seed: 23,
  batchSize: 16,
  hparams,
  checkpoint: { everyBatches, everySeconds: 0 },
  recovery: { heartbeatTimeoutSeconds: 10, backoffSeconds: 0 },
};
let client: Client;
let close: () => Promise<void>;
let version: string;
let fleet: WorkerFleet;

before(async () => {
  ({ client, close } = await testClient());
  ({ version } = await importMnistDataset(new DatasetStore(objects), name, { rows: 384, shardRows: 96 }));
  fleet = new WorkerFleet(
    {
      ...testEnv(),
      DFIT_TASK_MODULES: path.resolve('test/helpers/gated-stream-task.ts'),
      [GATE_ENV]: gate,
    },
    taskQueue,
    'test-artifacts/dataset-durable',
  );
});
after(async () => {
  await fleet.stopAll();
  await close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function uninterruptedWeights(): Promise<string> {
  const trainer = await Trainer.create({
    backend: 'cpu',
    datasets: new DatasetStore(objects),
    windowBytes: 1e6,
  });
  const session = await trainer.openSession({
    task: 'mnist-mlp-stream',
    hparams,
    seed: 23,
    batchSize: 16,
    epochs: 2,
  });
  try {
    return finalizeState((await runSession(session)).state).meta.weightsSha256;
  } finally {
    session.dispose();
  }
}

test('a streamed durable run whose trainer is killed mid-epoch resumes at its newest checkpoint: the uninterrupted weights', async () => {
  const worker = await fleet.start();
  const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `dataset-durable-${Date.now()}`,
    args: [spec],
  });
  const seen = await waitForEpoch(
    handle,
    (p) => p.details?.epoch === 1 && p.details.ckpt?.epoch === 1 && p.details.ckpt.batch >= 2 * everyBatches,
  );
  const [trainer] = fleet.trainerPids(worker.identity);
  assert.ok(trainer, 'the worker runs a trainer child');
  process.kill(trainer, 'SIGKILL');
  await waitForEpoch(handle, (p) => p.activityType === 'resumeEpoch' && p.details !== undefined);
  fs.writeFileSync(gate, 'open'); // the rest at full speed

  const result = await handle.result();
  assert.equal(result.status, 'completed');
  assert.equal(result.weightsSha256, await uninterruptedWeights());
  assert.equal(result.recoveries.length, 1, JSON.stringify(result.recoveries));
  const [point] = await resumePoints(handle, result);
  assert.ok(point?.ckpt, 'the resumed attempt started from a checkpoint');
  assert.match(point.recovery.reason, /TrainerCrashedError/);
  assertResumedFromNewest(point, {
    newest: seen.details?.ckpt,
    reached: seen.details?.batch,
    interval: everyBatches,
    slack: 2,
  });
  assertLedgerConsistent(result);
  // The checkpoint it resumed from names the dataset version it streamed.
  const key = new URL(point.ckpt.url).pathname.slice(1);
  const saved = decodeCheckpoint(new Uint8Array(await buffer(await objects.get(key))));
  assert.deepEqual(saved.meta.dataset, { name, version });
});

test("spec.dataset (name@version) takes the place of the task's reference; a task with in-memory data refuses it", async () => {
  const streamed = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `dataset-spec-${Date.now()}`,
    args: [
      {
        task: 'mnist-mlp-stream',
        epochs: 1,
        seed: 5,
        batchSize: 32,
        hparams: { ...hparams, dataset: 'no-such-dataset' }, // the task's own reference: overridden
        dataset: `${name}@${version}`,
      },
    ],
  });
  if (fleet.workers.size === 0) await fleet.start();
  const result = await streamed.result();
  assert.equal(result.status, 'completed');
  const key = new URL(result.finalCheckpoint.url).pathname.slice(1);
  const saved = decodeCheckpoint(new Uint8Array(await buffer(await objects.get(key))));
  assert.deepEqual(saved.meta.dataset, { name, version });

  const inMemory = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `dataset-spec-synthetic-${Date.now()}`,
    args: [{ task: 'synthetic', epochs: 1, seed: 5, dataset: name }],
  });
  await assert.rejects(inMemory.result(), (err: unknown) =>
    /synthetic trains on its own in-memory data/.test(
      String((err as Error & { cause?: Error }).cause?.message ?? err),
    ),
  );
});

test('a dataset missing from the bucket fails the run at once, naming it', async () => {
  const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `dataset-missing-${Date.now()}`,
    args: [{ task: 'mnist-mlp-stream', epochs: 1, seed: 5, hparams, dataset: 'no-such-dataset' }],
  });
  if (fleet.workers.size === 0) await fleet.start();
  const started = Date.now();
  await assert.rejects(handle.result(), (err: unknown) =>
    /DatasetNotFoundError|no-such-dataset/.test(
      String((err as Error & { cause?: Error }).cause?.message ?? err),
    ),
  );
  const result = await handle.describe();
  assert.equal(result.status.name, 'FAILED');
  assert.ok(Date.now() - started < 60_000, `failed after ${Date.now() - started} ms`);
});
