// Ownership of run folders (issue 22), on the real Temporal dev server and MinIO: a run that
// continues another run's folder (`runName` = its folder, `resumeFrom` = its checkpoint) neither
// deletes that run's checkpoints by its retention nor aborts its uploads in flight, and the folder
// guard sees objects in subfolders (a data-parallel run's `parallel/`).
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { CheckpointStore } from '../../src/checkpoint/store';
import type { TrainingSpecInput } from '../../src/spec';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import type { TrainingResult } from '../../src/contract';
import { testStack } from '../helpers/stack-env';
import { startTestWorker, testClient, testOptions } from '../helpers/training';

const taskQueue = `run-ownership-${process.pid}`;
const objects = createMinioObjectClient(testStack().s3);
const store = new CheckpointStore(objects);
const tag = `${process.pid}-${Date.now() % 1e6}`;
const base = { task: 'synthetic', seed: 1, batchSize: 16, hparams: { samples: 64 } }; // 4 batches an epoch
let client: Client;
let close: () => Promise<void>;
let worker: Awaited<ReturnType<typeof startTestWorker>>;

before(async () => {
  ({ client, close } = await testClient());
  worker = await startTestWorker(testOptions(taskQueue));
});
after(async () => {
  await worker.stop();
  await close();
});

function train(spec: TrainingSpecInput, workflowId = `own-${tag}-${Math.random().toString(36).slice(2, 8)}`) {
  return client.workflow.execute('trainModel', {
    taskQueue,
    workflowId,
    args: [spec],
  }) as Promise<TrainingResult>;
}

/** An upload in flight in `folder` (a live writer's): 5 MiB sent as one part, then it waits. */
function uploadInFlight(key: string) {
  const writer = createMinioObjectClient(testStack().s3, {
    multipartThresholdBytes: 5 * 1024 * 1024,
    partSizeBytes: 5 * 1024 * 1024,
    deadline: { baseMs: 600_000, perMiBMs: 0 },
  });
  let sent = false;
  const body = new Readable({
    read() {
      if (!sent) this.push(Buffer.alloc(5 * 1024 * 1024 + 1, 3)); // one full part, then a stall
      sent = true;
    },
  });
  const done = writer.put(key, body).catch(() => undefined);
  return { end: () => body.destroy(new Error('test over')), done };
}

test("continuing another run's folder keeps its checkpoints and its uploads in flight", async () => {
  const owner = await train({ ...base, epochs: 3 }, `owner-${tag}`);
  const folder = owner.runName;
  const ownerCkpts = owner.epochs.map((e) => e.ckpt.url);
  assert.equal(owner.finalCheckpoint.url, ownerCkpts.at(-1));
  const upload = uploadInFlight(`${folder}/epoch=0009-step=0000036.ckpt`);
  try {
    for (let i = 0; i < 100 && (await objects.listIncompleteUploads(`${folder}/`)).length === 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.equal((await objects.listIncompleteUploads(`${folder}/`)).length, 1, 'the upload is in flight');

    const second = await train({
      ...base,
      epochs: 4,
      runName: folder,
      resumeFrom: owner.finalCheckpoint.url,
      checkpoint: { keepLast: 1, everySeconds: 0 },
    });
    assert.equal(second.status, 'completed');
    for (const url of ownerCkpts) await store.stat(url); // throws CheckpointNotFoundError when deleted
    assert.equal((await objects.listIncompleteUploads(`${folder}/`)).length, 1, "the owner's upload lives");
    const keys = (await store.list(folder)).map((c) => c.url);
    assert.deepEqual(keys, [...ownerCkpts, second.finalCheckpoint.url]);
  } finally {
    upload.end();
    await upload.done;
    await store.abortIncompleteUploads(folder);
  }
});

test('a folder holding only parallel/ objects is taken', async () => {
  const runName = `parallel-only-${tag}`;
  await objects.put(`${runName}/parallel/round=000000/global.ckpt`, Buffer.from('not empty'));
  const err = await train({ ...base, epochs: 1, runName }).catch((e: unknown) => e);
  assert.ok(err instanceof WorkflowFailedError, String(err));
  assert.equal((err.cause as { type?: string }).type, 'RunFolderTakenError');
});
