// A flipped bit in an epoch-end checkpoint (issue 10 item 4). The run resumes from it after a crash,
// finds it corrupt, falls back one epoch, trains that epoch again and so reaches the corrupt
// object's key again: it must save beside it (a versioned key), not blame the checkpoint it resumed
// from, and end golden — where it used to fall back all the way to a fresh start, forever.
import { TRAIN_MODEL } from '../../src/contract';
import assert from 'node:assert/strict';
import { buffer } from 'node:stream/consumers';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { parseCheckpointUrl } from '../../src/checkpoint/keys';
import type { TrainingSpecInput } from '../../src/spec';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import type { Progress, TrainModel } from '../../src/contract';
import { testStack } from '../helpers/stack-env';
import { goldenWeightsSha256, testClient, testEnv } from '../helpers/training';
import { WorkerFleet, waitForEpoch } from '../helpers/worker-fleet';
import { assertResumedFromNewest, resumePoints } from '../helpers/resume-point';

const taskQueue = `corrupt-epoch-end-${process.pid}`;
const spec: TrainingSpecInput = {
  task: 'synthetic',
  epochs: 3,
  seed: 23,
  batchSize: 16,
  hparams: { samples: 8192, features: 32, hidden: 256 },
  checkpoint: { everyBatches: 0, everySeconds: 0 }, // epoch ends only: the crash resumes from one
  recovery: { heartbeatTimeoutSeconds: 3, backoffSeconds: 0 },
};
let client: Client;
let close: () => Promise<void>;
let fleet: WorkerFleet;

before(async () => {
  ({ client, close } = await testClient());
  fleet = new WorkerFleet(testEnv(), taskQueue, 'test-artifacts/corrupt-epoch-end');
});
after(async () => {
  await fleet.stopAll();
  await close();
});

test('a flipped bit in an epoch-end checkpoint: one fallback, a versioned re-save, golden', async () => {
  const golden = goldenWeightsSha256(spec);
  await fleet.start(); // one worker, so the one that resumes later holds nothing warm
  const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `corrupt-epoch-end-${Date.now()}`,
    args: [spec],
  });
  const victim = await waitForEpoch(handle, (p) => p.details?.epoch === 2 && p.details.batch >= 1);
  const bad = (await handle.query<Progress>('progress')).lastCheckpoint;
  assert.equal(bad?.epoch, 2, 'the run trains epoch 2 from the end of epoch 1');
  const objects = createMinioObjectClient(testStack().s3);
  const { key } = parseCheckpointUrl(bad.url);
  const bytes = await buffer(await objects.get(key));
  const stat = await objects.stat(key);
  bytes.writeUInt8(bytes.readUInt8(bytes.length - 5) ^ 0x01, bytes.length - 5);
  await objects.put(key, bytes, { metadata: stat?.metadata }); // same size and hash metadata: only the bytes lie
  await fleet.kill(victim.identity, 'SIGKILL');
  await fleet.start();

  const result = await handle.result();
  assert.equal(result.status, 'completed');
  assert.equal(result.weightsSha256, await golden);
  const kinds = result.recoveries.map((r) => r.kind);
  assert.deepEqual(kinds, ['crash', 'fallback'], JSON.stringify(result.recoveries));
  const epoch1 = result.epochs.find((e) => e.epoch === 1);
  assert.ok(
    epoch1 && epoch1.ckpt.url !== bad.url,
    `epoch 1 saved beside the corrupt object: ${epoch1?.ckpt.url}`,
  );
  // Where each resumed: the crash from the newest durable checkpoint, the corrupt epoch-1 end (no
  // intra-epoch checkpoints, so up to the whole epoch is redone); the fallback from the newest one
  // left, the end of epoch 0.
  const [crash, fallback] = await resumePoints(handle, result);
  assert.ok(crash && fallback);
  assertResumedFromNewest(crash, { newest: bad, reached: victim.details?.batch });
  assert.equal(crash.recovery.fromCkpt, bad.url);
  const epoch0 = result.epochs.find((e) => e.epoch === 0);
  assert.equal(fallback.recovery.fromCkpt, epoch0?.ckpt.url, 'fell back to the end of epoch 0');
});
