// Leftovers of data-parallel rounds (issue 22 item 6), on the real Temporal dev server and MinIO: a
// shard attempt killed in the middle of a multipart upload leaves parts and an upload journal in the
// round's folder; once the round is merged they are gone (parts aborted, journal removed).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { ObjectRunFolder } from '../../src/checkpoint/run-folder';
import { TRAIN_MODEL } from '../../src/contract';
import type { TrainParallel } from '../../src/contract';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import { GATE_ENV } from '../helpers/gated-task';
import { killMidUpload } from '../helpers/killed-upload';
import { testStack } from '../helpers/stack-env';
import { startTestWorker, testClient, testOptions } from '../helpers/training';

const taskQueue = `parallel-leftovers-${process.pid}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-parallel-leftovers-'));
const gate = path.join(dir, 'gate'); // test/helpers/gated-task.ts: batches sleep while it is missing
const objects = createMinioObjectClient(testStack().s3);
const runs = new ObjectRunFolder(objects);
const MiB = 1024 * 1024;
let client: Client;
let close: () => Promise<void>;
let worker: Awaited<ReturnType<typeof startTestWorker>>;

/** 128 samples, 2 shards of 64, batch 4: 16 shard batches a data epoch; 10 epochs = 2 rounds of 80. */
const SPEC = {
  task: 'gated-synthetic',
  epochs: 10,
  seed: 12,
  batchSize: 4,
  hparams: { samples: 128 },
  checkpoint: { everyBatches: 0, everySeconds: 0 },
  parallel: { shards: 2, syncEverySteps: 80 },
};

before(async () => {
  ({ client, close } = await testClient());
  process.env[GATE_ENV] = gate; // read by the trainer processes this worker starts
  worker = await startTestWorker(
    { ...testOptions(taskQueue), taskModules: [path.resolve('test/helpers/gated-task.ts')] },
    { maxConcurrentTrainings: 2 },
  );
});
after(async () => {
  await worker.stop();
  await close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test("a killed shard upload's parts and journal are gone once its round is merged", async () => {
  const runName = `parallel-leftovers-${process.pid}-${Date.now() % 1e6}`;
  const handle = await client.workflow.start<TrainParallel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: runName,
    args: [{ ...SPEC, runName }],
  });
  // While round 0 is held: a dead attempt's upload inside it (5 MiB parts, killed after the first).
  const key = `${runName}/parallel/round=0000/shard=01/step=0000040-try=9.ckpt`;
  await killMidUpload(testStack().s3, key, 12 * MiB, 5 * MiB);
  assert.deepEqual(await objects.listIncompleteUploads(`${runName}/`), [key]);
  fs.writeFileSync(gate, 'open');

  const result = await handle.result();
  assert.equal(result.status, 'completed');
  assert.deepEqual(await objects.listIncompleteUploads(`${runName}/`), [], 'parts aborted');
  const journals = (await runs.listFolderKeys(runName)).filter((k) => k.includes('/.uploads/'));
  assert.deepEqual(journals, [], 'journal removed');
});
