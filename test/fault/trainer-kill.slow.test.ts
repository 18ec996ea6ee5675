// The trainer child of a worker dies mid-epoch — SIGKILLed as the kernel's OOM killer does, or
// SIGSTOPped until the watchdog kills it — after intra-epoch checkpoints of that epoch were durable
// (issue 22). The attempt fails at once (TrainerCrashedError / TrainerHungError); the run must resume
// from the newest of those checkpoints, not from the start of the epoch, and end with the golden
// weights. Epochs are held at 100 ms per batch (gated-synthetic, gate never opened until the fault),
// so the fault lands mid-epoch after a checkpoint on any machine.
import { TRAIN_MODEL } from '../../src/contract';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import type { TrainModel } from '../../src/contract';
import type { TrainingSpecInput } from '../../src/spec';
import { GATE_ENV } from '../helpers/gated-task';
import { saveHistories } from '../helpers/histories';
import { testStack } from '../helpers/stack-env';
import { assertLedgerConsistent, assertResumedFromNewest, resumePoints } from '../helpers/resume-point';
import { goldenWeightsSha256, testClient, testEnv } from '../helpers/training';
import { WorkerFleet, waitForEpoch } from '../helpers/worker-fleet';

const taskQueue = `trainer-kill-${process.pid}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-trainer-kill-'));
const everyBatches = 8;
const env = {
  ...testEnv(),
  DFIT_TASK_MODULES: path.resolve('test/helpers/gated-task.ts'),
  DFIT_TRAINER_HANG_TIMEOUT: '3s', // a SIGSTOPped trainer is found hung after 3 s
};
const spec = (seed: number): TrainingSpecInput => ({
  task: 'gated-synthetic',
  epochs: 2,
  seed,
  batchSize: 16,
  hparams: { samples: 1024, features: 16, hidden: 64 }, // 64 batches an epoch: 6.4 s while held
  checkpoint: { everyBatches, everySeconds: 0 },
  recovery: { heartbeatTimeoutSeconds: 10, backoffSeconds: 0 },
});
let client: Client;
let close: () => Promise<void>;
const fleets: WorkerFleet[] = [];

before(async () => {
  ({ client, close } = await testClient());
});
after(async () => {
  await Promise.all(fleets.map((f) => f.stopAll()));
  await close();
  fs.rmSync(dir, { recursive: true, force: true });
});

for (const [signal, failure] of [
  ['SIGKILL', 'TrainerCrashedError'],
  ['SIGSTOP', 'TrainerHungError'],
] as const) {
  test(`trainer child ${signal}ed mid-epoch after checkpoints: ${failure}, resumed from the newest checkpoint`, async () => {
    const gate = path.join(dir, `gate-${signal}`);
    const fleet = new WorkerFleet(
      { ...env, [GATE_ENV]: gate },
      `${taskQueue}-${signal}`,
      'test-artifacts/trainer-kill',
    );
    fleets.push(fleet);
    const worker = await fleet.start();
    const input = spec(signal === 'SIGKILL' ? 31 : 32);
    const golden = goldenWeightsSha256({ ...input, task: 'synthetic' });
    const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
      taskQueue: `${taskQueue}-${signal}`,
      workflowId: `trainer-kill-${signal}-${Date.now()}`,
      args: [input],
    });
    const seen = await waitForEpoch(
      handle,
      (p) =>
        p.details?.epoch === 1 && p.details.ckpt?.epoch === 1 && p.details.ckpt.batch >= 2 * everyBatches,
    );
    const [trainer] = fleet.trainerPids(worker.identity);
    assert.ok(trainer, 'the worker runs a trainer child');
    process.kill(trainer, signal);
    await waitForEpoch(handle, (p) => p.activityType === 'resumeEpoch' && p.details !== undefined);
    fs.writeFileSync(gate, 'open'); // the rest at full speed

    const result = await handle.result();
    await fleet.stopAll();
    await saveHistories(client, testStack(), handle.workflowId, 'test-artifacts/trainer-kill/histories');
    assert.equal(result.status, 'completed');
    assert.equal(result.weightsSha256, await golden);
    assert.deepEqual(
      result.epochs.map((e) => e.epoch),
      [0, 1],
    );
    assert.equal(result.recoveries.length, 1, JSON.stringify(result.recoveries));
    const [point] = await resumePoints(handle, result);
    assert.ok(point);
    assert.equal(point.recovery.kind, 'infrastructure');
    assert.match(point.recovery.reason, new RegExp(failure));
    // Progress reaches the activity once per batch here (100 ms a batch), so a save is at most a
    // batch or two late.
    assertResumedFromNewest(point, {
      newest: seen.details?.ckpt,
      reached: seen.details?.batch,
      interval: everyBatches,
      slack: 2,
    });
    assertLedgerConsistent(result);
    assert.ok(
      (result.goodput?.byKind.infrastructure?.stepsRedone ?? Infinity) <= everyBatches + 2,
      `the ledger: at most one checkpoint interval redone (${JSON.stringify(result.goodput)})`,
    );
    assert.equal(result.goodput?.byKind.infrastructure?.failures, 1);
  });
}
