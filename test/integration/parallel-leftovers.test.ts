// Leftovers of data-parallel rounds (issue 22 item 6), on the real Temporal dev server and MinIO: a
// shard attempt killed in the middle of a multipart upload leaves parts and an upload journal in the
// round's folder; once the round is merged they are gone (parts aborted, journal removed).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { ObjectRunFolder } from '../../src/checkpoint/run-folder';
import { TRAIN_MODEL } from '../../src/contract';
import type { TrainParallel } from '../../src/contract';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import { GatedWorker } from '../helpers/gated-worker';
import { killMidUpload } from '../helpers/killed-upload';
import { testStack } from '../helpers/stack-env';

const taskQueue = `parallel-leftovers-${process.pid}`;
const gated = new GatedWorker('parallel-leftovers', taskQueue, { maxConcurrentTrainings: 2 });
const objects = createMinioObjectClient(testStack().s3);
const runs = new ObjectRunFolder(objects);
const MiB = 1024 * 1024;
let client: Client;

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

before(async () => ({ client } = await gated.start()));
after(() => gated.stop());

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
  gated.open();

  const result = await handle.result();
  assert.equal(result.status, 'completed');
  assert.deepEqual(await objects.listIncompleteUploads(`${runName}/`), [], 'parts aborted');
  const journals = (await runs.listFolderKeys(runName)).filter((k) => k.includes('/.uploads/'));
  assert.deepEqual(journals, [], 'journal removed');
});
