// SIGTERM (preemption) of the worker running an epoch: the epoch saves a checkpoint at the next batch
// boundary and fails with a retryable `Preempted` failure carrying it; the run resumes from it at
// once — without waiting for the heartbeat timeout — losing no batch, and ends with the golden weights.
import { TRAIN_MODEL } from '../../src/contract';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import type { TrainingSpecInput } from '../../src/spec';
import type { TrainModel } from '../../src/contract';
import { goldenWeightsSha256 } from '../helpers/training';
import { waitForEpoch } from '../helpers/worker-fleet';
import type { WorkerFleet } from '../helpers/worker-fleet';
import { startFleet } from '../helpers/fleet-rig';
import type { Fleet } from '../helpers/fleet-rig';
import { assertResumedFromNewest, resumePoints } from '../helpers/resume-point';

const taskQueue = `preempt-${process.pid}`;
const heartbeatTimeoutSeconds = 20; // long on purpose: the resume must not wait for it
const spec: TrainingSpecInput = {
  task: 'synthetic',
  epochs: 2,
  seed: 9,
  batchSize: 16,
  hparams: { samples: 8192, features: 32, hidden: 256 },
  checkpoint: { everyBatches: 0, everySeconds: 0 }, // no periodic checkpoints: only the preemption one
  recovery: { heartbeatTimeoutSeconds, backoffSeconds: 0 },
};
let client: Client;
let fleet: WorkerFleet;
let rig: Fleet;

before(async () => {
  rig = await startFleet({ taskQueue, logDir: 'test-artifacts/preempt-worker', workers: 2 });
  ({ client, fleet } = rig);
});
after(() => rig?.stop());

test('SIGTERM mid-epoch: resumed from the preemption checkpoint at once, no batch lost, golden weights', async () => {
  const golden = goldenWeightsSha256(spec);
  const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `preempt-${Date.now()}`,
    args: [spec],
  });
  const victim = await waitForEpoch(
    handle,
    (p) => (p.details?.epoch ?? 0) === 0 && (p.details?.batch ?? 0) >= 150,
  );
  const signalledAt = Date.now();
  await fleet.kill(victim.identity, 'SIGTERM'); // returns once the worker exited gracefully
  const resumed = await waitForEpoch(
    handle,
    (p) => p.activityType === 'resumeEpoch' && p.identity !== victim.identity && p.details !== undefined,
  );
  const resumeMs = Date.now() - signalledAt;
  const result = await handle.result();

  assert.equal(result.status, 'completed');
  assert.equal(result.weightsSha256, await golden);
  const [preemption, ...rest] = result.recoveries;
  assert.equal(rest.length, 0, JSON.stringify(result.recoveries));
  assert.equal(preemption?.kind, 'preemption');
  assert.match(preemption.fromCkpt, /epoch=0000-step=\d{7}\.ckpt$/);
  const ckpt = resumed.details?.ckpt;
  assert.equal(ckpt?.url, preemption.fromCkpt);
  assert.ok(
    (ckpt?.batch ?? 0) >= (victim.details?.batch ?? 0),
    'the checkpoint is at or after the last reported batch',
  );
  // The resume point, from the history: the preemption's own checkpoint, nothing redone.
  const [point] = await resumePoints(handle, result);
  assert.ok(point);
  assertResumedFromNewest(point, { newest: ckpt, reached: victim.details?.batch, interval: 0 });
  assert.ok(
    resumeMs < heartbeatTimeoutSeconds * 1000,
    `resumed after ${resumeMs} ms, before the heartbeat timeout`,
  );
  console.log(
    JSON.stringify({
      sigtermToResumedMs: resumeMs,
      lastHeartbeatBatch: victim.details?.batch,
      ckptBatch: ckpt?.batch,
    }),
  );
});
