// The epoch-end window (issue 22, found by reading, item 1): the epoch activity saves the epoch-end
// checkpoint, heartbeats it, writes the epoch's log entry and completes. A worker lost in between
// used to leave the workflow that checkpoint as a mere position: the epoch was never recorded (a
// middle epoch's metrics missing; after the last one the result's weightsSha256 was the previous
// epoch's, not the final checkpoint's). The worker's S3 traffic goes through a proxy that holds the
// PUT of the log entry, so the worker is SIGKILLed exactly inside that window, once in a middle
// epoch and once in the last. The run must record every epoch, redo nothing, write every log entry,
// and end with the golden weights, which are those of its final checkpoint.
import { TRAIN_MODEL } from '../../src/contract';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { storageOver } from '../helpers/storage-ports';
import { parseCheckpointUrl } from '../../src/checkpoint/keys';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import type { TrainModel } from '../../src/contract';
import type { TrainingSpecInput } from '../../src/spec';
import { assertResumedFromNewest, resumePoints, stepsRedone } from '../helpers/resume-point';
import { saveHistories } from '../helpers/histories';
import { startS3HoldProxy } from '../helpers/s3-hold-proxy';
import type { S3HoldProxy } from '../helpers/s3-hold-proxy';
import { testStack } from '../helpers/stack-env';
import { goldenWeightsSha256, testClient, testEnv } from '../helpers/training';
import { WorkerFleet, waitForEpoch } from '../helpers/worker-fleet';
import type { PendingEpoch } from '../helpers/worker-fleet';

const taskQueue = `epoch-end-window-${process.pid}`;
const everyBatches = 40;
const spec: TrainingSpecInput = {
  task: 'synthetic',
  epochs: 3,
  seed: 41,
  batchSize: 16,
  hparams: { samples: 2048, features: 32, hidden: 128 },
  checkpoint: { everyBatches, everySeconds: 0 },
  recovery: { heartbeatTimeoutSeconds: 3, backoffSeconds: 0 },
};
let client: Client;
let close: () => Promise<void>;
let proxy: S3HoldProxy;
let fleet: WorkerFleet;

before(async () => {
  ({ client, close } = await testClient());
  proxy = await startS3HoldProxy(testStack().s3.endpoint);
  fleet = new WorkerFleet(
    { ...testEnv(), DFIT_S3_ENDPOINT: proxy.endpoint },
    taskQueue,
    'test-artifacts/epoch-end-window',
  );
  await Promise.all([fleet.start(), fleet.start()]);
});
after(async () => {
  await fleet.stopAll();
  await proxy.close();
  await close();
});

test('a worker SIGKILLed between the epoch-end heartbeat and the completion: the epoch is recorded', async () => {
  const golden = goldenWeightsSha256(spec);
  const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `epoch-end-window-${Date.now()}`,
    args: [spec],
  });
  const replacements: Promise<unknown>[] = [];
  const seen: PendingEpoch[] = [];
  for (const epoch of [0, 2]) {
    const log = `/log/epoch=${String(epoch).padStart(6, '0')}.json`;
    const held = await proxy.hold((method, path) => method === 'PUT' && path.includes(log));
    // The log PUT is held, so the worker stays in the window; wait until the server has the
    // epoch-end heartbeat (a throttled heartbeat arrives within a second), then kill the worker.
    const victim = await waitForEpoch(
      handle,
      (p) => p.details?.epoch === epoch && p.details.ckpt?.epoch === epoch + 1,
    );
    await fleet.kill(victim.identity, 'SIGKILL');
    held.release(); // its client is gone: dropped
    replacements.push(fleet.start());
    seen.push(victim);
  }
  const result = await handle.result();
  await Promise.all(replacements);
  await saveHistories(client, testStack(), handle.workflowId, 'test-artifacts/epoch-end-window/histories');

  assert.equal(result.status, 'completed');
  assert.deepEqual(
    result.epochs.map((e) => e.epoch),
    [0, 1, 2],
    'every epoch recorded',
  );
  for (const e of result.epochs) assert.ok(Number.isFinite(e.metrics.loss), `epoch ${e.epoch} metrics`);
  assert.equal(result.weightsSha256, await golden);
  const { store, runs } = storageOver(createMinioObjectClient(testStack().s3));
  const final = await store.load(result.finalCheckpoint!.url, result.finalCheckpoint);
  assert.equal(
    final.meta.weightsSha256,
    result.weightsSha256,
    "the result's weights are its final checkpoint's",
  );

  const points = await resumePoints(handle, result);
  assert.deepEqual(
    points.map((p) => [p.recovery.kind, p.recovery.atEpoch]),
    [
      ['crash', 0],
      ['crash', 2],
    ],
  );
  points.forEach((point, i) => {
    assertResumedFromNewest(point, { newest: seen[i]?.details?.ckpt, interval: everyBatches });
    assert.equal(stepsRedone(point), 0, 'the epoch had ended: nothing to redo');
  });
  const runName = parseCheckpointUrl(result.finalCheckpoint!.url).key.split('/')[0]!;
  const logged = (await runs.listRunJson(runName, 'log')) as { epoch: number; weightsSha256: string }[];
  assert.deepEqual(
    logged.map((l) => l.epoch),
    [0, 1, 2],
    'each epoch has its log entry',
  );
  assert.equal(logged[2]?.weightsSha256, result.weightsSha256);
});
