// Run folders and the checkpoints in them, on the real Temporal dev server and MinIO: a reused
// workflow id gets a fresh folder, a taken folder is refused at once, retention removes intra-epoch
// checkpoints of finished epochs, a fork's source survives its parent's keepLast 1, and a corrupt
// epoch-end object at the key a re-run writes does not stop the run.
import { TRAIN_MODEL } from '../../src/contract';
import assert from 'node:assert/strict';
import { buffer } from 'node:stream/consumers';
import { after, before, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { parseCheckpointUrl } from '../../src/checkpoint/keys';
import { ObjectRunFolder } from '../../src/checkpoint/run-folder';
import type { TrainingSpecInput } from '../../src/spec';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import type { TrainModel } from '../../src/contract';
import { testStack } from '../helpers/stack-env';
import { startTestRig, testOptions } from '../helpers/training';
import type { TestRig } from '../helpers/training';

const taskQueue = `run-folders-${process.pid}`;
const objects = createMinioObjectClient(testStack().s3);
const runs = new ObjectRunFolder(objects);
const tag = `${process.pid}-${Date.now() % 1e6}`;
const base = { task: 'synthetic', seed: 5, batchSize: 16, hparams: { samples: 64 } }; // 4 batches an epoch
let client: Client;
let rig: TestRig;

before(async () => ({ client } = rig = await startTestRig(testOptions(taskQueue))));
after(() => rig?.stop());

function train(spec: TrainingSpecInput, workflowId = `rf-${tag}-${Math.random().toString(36).slice(2, 8)}`) {
  return client.workflow.execute<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId,
    args: [spec],
  });
}

const keysOf = async (runName: string) => (await runs.list(runName)).map((c) => c.key.split('/')[1]);

test('the same workflow id twice: both runs complete, each in a folder of its own', async () => {
  const id = `nightly-${tag}`;
  const first = await train({ ...base, epochs: 1, seed: 1 }, id);
  const second = await train({ ...base, epochs: 1, seed: 2 }, id);
  assert.equal(second.status, 'completed');
  assert.match(first.runName, new RegExp(`^${id}-[0-9a-f]{8}$`));
  assert.match(second.runName, new RegExp(`^${id}-[0-9a-f]{8}$`));
  assert.notEqual(first.runName, second.runName);
  // An explicit runName that holds another run's checkpoints is refused at once, saying what to do.
  const err = await train({ ...base, epochs: 1, runName: first.runName }).catch((e: unknown) => e);
  assert.ok(err instanceof WorkflowFailedError, String(err));
  assert.equal((err.cause as { type?: string }).type, 'RunFolderTakenError');
  assert.match(String(err.cause?.message), /pick another runName.*resumeFrom: s3:\/\//);
});

test('keepLast 1: intra-epoch checkpoints of finished epochs are deleted too', async () => {
  const runName = `intra-${tag}`;
  const checkpoint = { everyBatches: 1, everySeconds: 0, keepLast: 1 };
  const result = await train({ ...base, epochs: 2, runName, checkpoint });
  assert.equal(result.status, 'completed');
  assert.deepEqual(await keysOf(runName), ['epoch=0002-step=0000008.ckpt']);
});

test("a fork's source checkpoint is pinned: the parent's keepLast 1 keeps it", async () => {
  const parent = `parent-${tag}`;
  const keepLast1 = { everySeconds: 0, keepLast: 1 };
  const first = await train({ ...base, epochs: 1, runName: parent, checkpoint: keepLast1 });
  const source = first.finalCheckpoint.url;
  const fork = await train({ ...base, epochs: 1, runName: `child-${tag}`, forkedFrom: { ckpt: source } });
  assert.equal(fork.status, 'completed');
  const resumed = await train({
    ...base,
    epochs: 3,
    runName: parent,
    resumeFrom: source,
    checkpoint: keepLast1,
  });
  assert.equal(resumed.status, 'completed');
  assert.deepEqual(await keysOf(parent), ['epoch=0001-step=0000004.ckpt', 'epoch=0003-step=0000012.ckpt']);
});

test('a flipped bit in the epoch-end object a re-run writes: saved under -v1, the run completes', async () => {
  const runName = `corrupt-end-${tag}`;
  const first = await train({ ...base, epochs: 2, runName });
  const [end1, end2] = first.epochs.map((e) => e.ckpt.url) as [string, string];
  const key = parseCheckpointUrl(end2).key;
  const bytes = Buffer.from(await buffer(await objects.get(key)));
  bytes[bytes.length - 5] = (bytes[bytes.length - 5] ?? 0) ^ 0x01;
  const sha256 = (await objects.stat(key))?.metadata.sha256 ?? '';
  await objects.remove(key);
  await objects.put(key, bytes, { metadata: { sha256 } }); // same recorded hash, one bit off
  const rerun = await train({ ...base, epochs: 2, runName, resumeFrom: end1 });
  assert.equal(rerun.status, 'completed');
  assert.deepEqual(rerun.recoveries, []);
  assert.equal(rerun.finalCheckpoint.url, end2.replace(/\.ckpt$/, '-v1.ckpt'));
  assert.equal(rerun.weightsSha256, first.weightsSha256);
});
