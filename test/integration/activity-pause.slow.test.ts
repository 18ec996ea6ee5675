// Temporal's own activity controls on a training attempt (issue 25), driven with the dev server's CLI
// (`temporal activity pause|unpause|reset`): a pause behaves as durable-fit's pause (a checkpoint at
// the next batch boundary, the trainer slot freed, the run shown paused), unpause continues from that
// checkpoint with nothing trained twice and the golden weights, and a reset of a running attempt
// resumes from the newest durable checkpoint, never from scratch.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { TRAIN_MODEL } from '../../src/contract';
import type { Progress, TrainingSpecInput, TrainModel } from '../../src/contract';
import { GATE_ENV } from '../helpers/gated-task';
import { assertLedgerConsistent, resumePoints } from '../helpers/resume-point';
import { testStack } from '../helpers/stack-env';
import { goldenWeightsSha256, testClient, testEnv } from '../helpers/training';
import { WorkerFleet, waitForEpoch } from '../helpers/worker-fleet';
import { pollFor } from '../helpers/poll';

const run = promisify(execFile);
const taskQueue = `activity-pause-${process.pid}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-activity-pause-'));
const gate = path.join(dir, 'gate');
const spec = (seed: number, heartbeatTimeoutSeconds = 10): TrainingSpecInput => ({
  task: 'gated-synthetic',
  epochs: 2,
  seed,
  batchSize: 16,
  hparams: { samples: 1024, features: 16, hidden: 64 }, // 64 batches an epoch: 6.4 s while held
  checkpoint: { everyBatches: 8, everySeconds: 0 },
  recovery: { heartbeatTimeoutSeconds, backoffSeconds: 0 },
});
let client: Client;
let close: () => Promise<void>;
const fleet = new WorkerFleet(
  {
    ...testEnv(),
    DFIT_TASK_MODULES: path.resolve('test/helpers/gated-task.ts'),
    [GATE_ENV]: gate,
  },
  taskQueue,
  'test-artifacts/activity-pause',
);

before(async () => {
  ({ client, close } = await testClient());
  await fleet.start(); // one worker, one trainer slot
});
after(async () => {
  await fleet.stopAll();
  await close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** `temporal activity <verb>` on the workflow's running epoch attempt, against the test server. */
async function activity(verb: 'pause' | 'unpause' | 'reset', handle: WorkflowHandle): Promise<void> {
  const pending = (await handle.describe()).raw.pendingActivities ?? [];
  const id = pending.find((a) => /Epoch$/.test(a.activityType?.name ?? ''))?.activityId;
  assert.ok(id, 'an epoch attempt is pending');
  const { temporalBin, temporalAddress, namespace } = testStack();
  await run(temporalBin, [
    'activity',
    verb,
    '--address',
    temporalAddress,
    '--namespace',
    namespace,
    '--workflow-id',
    handle.workflowId,
    '--activity-id',
    id,
  ]);
}

test('temporal activity pause: checkpoint at the batch boundary, slot freed, shown paused; unpause continues it, golden', async () => {
  fs.rmSync(gate, { force: true }); // held: 100 ms a batch
  const input = spec(41);
  const golden = goldenWeightsSha256({ ...input, task: 'synthetic' });
  const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `activity-pause-${Date.now()}`,
    args: [input],
  });
  const seen = await waitForEpoch(handle, (p) => p.details?.epoch === 0 && (p.details.ckpt?.batch ?? 0) >= 8);
  await activity('pause', handle);

  const paused = await pollFor('the run shown paused at its pause checkpoint', async () => {
    const progress = await handle.query<Progress>('progress');
    return progress.status === 'paused' ? progress : undefined;
  });
  const pauseCkpt = paused.lastCheckpoint;
  assert.ok(pauseCkpt, 'the pause checkpoint is the run position');
  assert.equal(pauseCkpt.epoch, 0);
  assert.ok(pauseCkpt.batch >= (seen.details?.batch ?? 0), 'saved where the attempt was, not earlier');
  const pending = (await handle.describe()).raw.pendingActivities?.[0];
  assert.equal(pending?.paused, true, 'Temporal holds the activity paused');

  // The trainer slot is free: another run trains to its end on this one-slot worker meanwhile.
  fs.writeFileSync(gate, 'open');
  const other = await client.workflow.execute<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `activity-pause-other-${Date.now()}`,
    args: [{ ...spec(42), epochs: 1 }],
  });
  assert.equal(other.status, 'completed');
  assert.equal((await handle.query<Progress>('progress')).status, 'paused', 'still paused');

  await activity('unpause', handle);
  const result = await handle.result();
  assert.equal(result.status, 'completed');
  assert.deepEqual(result.recoveries, [], 'a pause is not a recovery');
  assert.equal(result.weightsSha256, await golden);
  assertLedgerConsistent(result);
  assert.equal(result.goodput?.stepsRedone, 0);
  assert.equal(
    result.goodput?.stepsTrained,
    result.goodput?.stepsKept,
    'nothing trained twice: resumed at the pause',
  );
});

test('temporal activity reset of a running attempt: resumed from the newest durable checkpoint, never from scratch', async () => {
  fs.rmSync(gate, { force: true });
  const input = spec(43, 3);
  const golden = goldenWeightsSha256({ ...input, task: 'synthetic' });
  const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `activity-reset-${Date.now()}`,
    args: [input],
  });
  const seen = await waitForEpoch(
    handle,
    (p) => p.details?.epoch === 0 && (p.details.ckpt?.batch ?? 0) >= 16,
  );
  await activity('reset', handle);
  await waitForEpoch(handle, (p) => p.activityType === 'resumeEpoch' && p.details !== undefined);
  fs.writeFileSync(gate, 'open');
  const result = await handle.result();
  assert.equal(result.status, 'completed');
  assert.equal(result.weightsSha256, await golden);
  const [point] = await resumePoints(handle, result);
  assert.ok(point?.ckpt, `resumed from a checkpoint: ${JSON.stringify(result.recoveries)}`);
  assert.ok(point.ckpt.step >= (seen.details?.ckpt?.step ?? 0), 'from the newest one seen before the reset');
  assertLedgerConsistent(result);
});
