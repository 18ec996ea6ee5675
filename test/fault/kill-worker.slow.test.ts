// SIGKILL the worker running an epoch, five times in one run, at different points. The run must
// finish on its own with the golden weights, and every recovery must be a resumeEpoch whose input
// names its .ckpt explicitly.
import { TRAIN_MODEL } from '../../src/contract';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { ResumeEpochInput, TrainModel } from '../../src/contract';
import type { TrainingSpecInput } from '../../src/spec';
import { goldenWeightsSha256 } from '../helpers/training';
import { waitForEpoch } from '../helpers/worker-fleet';
import type { WorkerFleet } from '../helpers/worker-fleet';
import { startFleet } from '../helpers/fleet-rig';
import type { Fleet } from '../helpers/fleet-rig';
import { testStack } from '../helpers/stack-env';
import { saveHistories } from '../helpers/histories';
import { assertResumedFromNewest, resumePoints, stepsRedone } from '../helpers/resume-point';
import type { PendingEpoch } from '../helpers/worker-fleet';

const taskQueue = `kill-${process.pid}`;
/**
 * Batches trained between a save falling due and its checkpoint being durable, at most: the trainer
 * reports progress every 50 ms and trains on while the upload runs. Measured here: redone 48, 17, 1,
 * 52, 24 at an interval of 50 (2 over it), so 15 leaves room for a loaded machine.
 */
const SAVE_LAG_BATCHES = 15;
const heartbeatTimeoutSeconds = 2;
const everyBatches = 50;
const spec: TrainingSpecInput = {
  task: 'synthetic',
  epochs: 3,
  seed: 5,
  batchSize: 16,
  hparams: { samples: 8192, features: 32, hidden: 256, dropout: 0.2 },
  checkpoint: { everyBatches, everySeconds: 0 },
  recovery: { heartbeatTimeoutSeconds, backoffSeconds: 0 },
};
let client: Client;
let fleet: WorkerFleet;
let rig: Fleet;

before(async () => {
  rig = await startFleet({ taskQueue, logDir: 'test-artifacts/kill-worker', workers: 2 });
  ({ client, fleet } = rig);
});
after(() => rig?.stop());

/**
 * Where to kill, spread over the run. Heartbeat details arrive at most every 0.8 × heartbeat timeout,
 * so each point is "the first observation at or past" it.
 */
const KILL_POINTS: { label: string; at: (p: PendingEpoch) => boolean }[] = [
  { label: 'epoch 0, mid-epoch', at: (p) => past(p, 0, 100) },
  {
    label: 'epoch 0, right after a resume (first heartbeat) or a new checkpoint',
    at: (p) => newCkptSinceResume(p) || past(p, 1, 0),
  },
  { label: 'epoch 1, right after epoch 0 ended', at: (p) => past(p, 1, 1) },
  { label: 'epoch 1, mid-epoch', at: (p) => past(p, 1, 250) },
  { label: 'epoch 2, mid-epoch', at: (p) => past(p, 2, 100) },
];

function past(p: PendingEpoch, epoch: number, batch: number): boolean {
  const d = p.details;
  return d !== undefined && (d.epoch > epoch || (d.epoch === epoch && d.batch >= batch));
}

let resumedFrom = 0;
function newCkptSinceResume(p: PendingEpoch): boolean {
  return p.activityType === 'resumeEpoch' && (p.details?.ckpt?.step ?? 0) > resumedFrom;
}

test('five SIGKILLs in one run: it completes with the golden weights, resuming from explicit .ckpt paths', async () => {
  const golden = goldenWeightsSha256(spec);
  const workflowId = `kill-${Date.now()}`;
  const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId,
    args: [spec],
  });
  const measurements: Record<string, unknown>[] = [];
  const replacements: Promise<unknown>[] = []; // awaited below: a start still pending when the test ends fails it
  const victims: PendingEpoch[] = [];
  for (const point of KILL_POINTS) {
    const victim = await waitForEpoch(handle, point.at);
    victims.push(victim);
    const killedAt = Date.now();
    await fleet.kill(victim.identity, 'SIGKILL');
    replacements.push(fleet.start());
    const resumed = await waitForEpoch(
      handle,
      (p) => p.activityType === 'resumeEpoch' && p.identity !== victim.identity && p.details !== undefined,
    );
    resumedFrom = resumed.details?.ckpt?.step ?? 0;
    measurements.push({
      point: point.label,
      victim: `${victim.identity} ${victim.activityType} ${JSON.stringify(victim.details)}`,
      resumed: `${resumed.identity} ${resumed.activityType} ${JSON.stringify(resumed.details)}`,
      killedAtBatch: victim.details?.batch,
      killedInEpoch: victim.details?.epoch,
      resumedFromBatch: resumed.details?.ckpt?.batch ?? 0,
      firstBatchAfterResumeMs: Date.now() - killedAt,
      lostBatches: (victim.details?.batch ?? 0) - (resumed.details?.ckpt?.batch ?? 0),
    });
  }
  const result = await handle.result();
  await Promise.all(replacements);
  await saveHistories(client, testStack(), handle.workflowId, 'test-artifacts/kill-worker/histories');
  const points = await resumePoints(handle, result);
  const redone = points.map(stepsRedone);
  fs.writeFileSync(
    'test-artifacts/kill-worker/measurements.json',
    JSON.stringify({ heartbeatTimeoutSeconds, everyBatches, measurements, redone }, null, 2),
  );

  assert.equal(result.status, 'completed');
  assert.deepEqual(
    result.epochs.map((e) => e.epoch),
    [0, 1, 2],
    'no completed epoch is lost',
  );
  assert.equal(result.weightsSha256, await golden, 'bit-exact with the uninterrupted run');
  const crashes = result.recoveries.filter((r) => r.kind === 'crash');
  assert.ok(crashes.length >= KILL_POINTS.length, `${crashes.length} crash recoveries recorded`);

  const resumeInputs = await resumeEpochInputs(handle.workflowId);
  assert.ok(resumeInputs.length >= KILL_POINTS.length);
  for (const input of resumeInputs)
    assert.match(input.ckptPath, /^s3:\/\/durable-fit\/kill-\d+-[0-9a-f]{8}\/epoch=\d{4}-step=\d{7}\.ckpt$/);
  for (const r of crashes)
    assert.ok(
      resumeInputs.some((i) => i.ckptPath === r.fromCkpt),
      `${r.fromCkpt} was resumed from`,
    );
  // Each crash resumed from the newest durable checkpoint its attempt had heartbeated (at least the
  // one the test saw before the kill), at the batch it had reached, and redid at most the batches
  // since that checkpoint. Those are measured from heartbeats (batch and checkpoint arrive together),
  // so the bound is the save interval plus the batches between a save falling due and its upload
  // being durable (the trainer reports progress every 50 ms and trains on during the upload).
  assert.equal(points.length, victims.length, JSON.stringify(result.recoveries));
  points.forEach((point, i) =>
    assertResumedFromNewest(point, {
      newest: victims[i]?.details?.ckpt,
      reached: victims[i]?.details?.batch,
      interval: everyBatches,
      slack: SAVE_LAG_BATCHES,
    }),
  );
});

async function resumeEpochInputs(workflowId: string): Promise<ResumeEpochInput[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? [])
    .map((e) => e.activityTaskScheduledEventAttributes)
    .filter((a) => a?.activityType?.name === 'resumeEpoch')
    .map((a) => defaultPayloadConverter.fromPayload<ResumeEpochInput>(a!.input!.payloads![0]!));
}
