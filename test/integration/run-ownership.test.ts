// Ownership of run folders (issue 22), on the real Temporal dev server and MinIO: a run that
// continues another run's folder (`runName` = its folder, `resumeFrom` = its checkpoint) neither
// deletes that run's checkpoints by its retention nor aborts its uploads in flight, it may not start
// while that run still writes the folder, and the folder guard sees objects in subfolders (a
// data-parallel run's `parallel/`).
import { TRAIN_MODEL } from '../../src/contract';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { ObjectCheckpointIO } from '../../src/checkpoint/object-checkpoint-io';
import { ObjectRunFolder } from '../../src/checkpoint/run-folder';
import type { TrainingSpecInput } from '../../src/spec';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import type { TrainModel } from '../../src/contract';
import { GATE_ENV } from '../helpers/gated-task';
import { testStack } from '../helpers/stack-env';
import { startTestWorker, testClient, testOptions } from '../helpers/training';
import { waitForEpoch } from '../helpers/worker-fleet';

const taskQueue = `run-ownership-${process.pid}`;
const objects = createMinioObjectClient(testStack().s3);
const store = new ObjectCheckpointIO(objects);
const runs = new ObjectRunFolder(objects);
const tag = `${process.pid}-${Date.now() % 1e6}`;
const base = { task: 'synthetic', seed: 1, batchSize: 16, hparams: { samples: 64 } }; // 4 batches an epoch
let client: Client;
let close: () => Promise<void>;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-run-ownership-'));
const gate = path.join(dir, 'gate'); // test/helpers/gated-task.ts: batches sleep while it is missing

before(async () => {
  fs.writeFileSync(gate, 'open');
  ({ client, close } = await testClient());
  process.env[GATE_ENV] = gate; // read by the trainer processes this worker starts
  const taskModules = [path.resolve('test/helpers/gated-task.ts')];
  worker = await startTestWorker({ ...testOptions(taskQueue), taskModules });
});
after(async () => {
  fs.writeFileSync(gate, 'open');
  await worker.stop();
  await close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function train(spec: TrainingSpecInput, workflowId = `own-${tag}-${Math.random().toString(36).slice(2, 8)}`) {
  return client.workflow.execute<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId,
    args: [spec],
  });
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
    const keys = (await runs.list(folder)).map((c) => c.url);
    assert.deepEqual(keys, [...ownerCkpts, second.finalCheckpoint.url]);
  } finally {
    upload.end();
    await upload.done;
    await runs.abortIncompleteUploads(folder);
  }
});

test('a folder holding only parallel/ objects is taken', async () => {
  const runName = `parallel-only-${tag}`;
  await objects.put(`${runName}/parallel/round=000000/global.ckpt`, Buffer.from('not empty'));
  const err = await train({ ...base, epochs: 1, runName }).catch((e: unknown) => e);
  assert.ok(err instanceof WorkflowFailedError, String(err));
  assert.equal((err.cause as { type?: string }).type, 'RunFolderTakenError');
});

test('a run may not continue a folder while its writer is still running', async () => {
  // 256 batches an epoch: the closed gate holds epoch 0 for about 25 s (0.1 s a batch).
  const busy = {
    ...base,
    hparams: { samples: 4096 },
    epochs: 1,
    checkpoint: { everyBatches: 1, everySeconds: 0 },
  };
  fs.rmSync(gate, { force: true }); // the owner is held inside epoch 0
  const owner = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `busy-owner-${tag}`,
    args: [{ ...busy, task: 'gated-synthetic' }],
  });
  try {
    const held = await waitForEpoch(owner, (p) => (p.details?.ckpt?.batch ?? 0) > 0);
    const ckpt = held.details?.ckpt?.url as string;
    const folder = ckpt.split('/')[3] as string;
    const err = await train({
      ...busy,
      task: 'gated-synthetic',
      epochs: 2,
      runName: folder,
      resumeFrom: ckpt,
    }).catch((e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError, String(err));
    assert.equal((err.cause as { type?: string }).type, 'RunFolderBusyError');
    assert.match(String(err.cause?.message), new RegExp(`running workflow "${owner.workflowId}"`));
  } finally {
    fs.writeFileSync(gate, 'open');
  }
  assert.equal((await owner.result()).status, 'completed');
});
