// Replay safety: histories with continue-as-new, pause/resume and checkpoint-now, recorded now (each
// test replays its own, so none depends on another's success), and committed histories with crash
// recoveries, a corruption fallback, a trainer crash resumed from the checkpoint its failure carried,
// lost completions whose epochs were recorded, a data-parallel run (a shard's trainer crash, a shard's
// worker SIGKILL, checkpoint-now and pause inside a round, continue-as-new every round) and an ASHA
// sweep (trials stopped at a rung, a failed trial, continue-as-new), and the same data-parallel run
// on the one training loop (its shard failures decided by the one budget rule, patch
// one-recovery-budget-rule), the last three recorded by
// test/fault/parallel-sweep-histories.slow.test.ts (test/fixtures/histories), all replay against the
// current workflow code without nondeterminism.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { TRAIN_MODEL } from '../../src/contract';
import type { Progress, TrainModel } from '../../src/contract';
import { testStack } from '../helpers/stack-env';
import { replayFiles, saveHistories } from '../helpers/histories';
import { goldenWeightsSha256, startTestWorker, testClient, testOptions } from '../helpers/training';
import { waitForEpoch } from '../helpers/worker-fleet';
import { GATE_ENV } from '../helpers/gated-task';
import { waitForStatus } from '../helpers/poll';

const taskQueue = `replay-${process.pid}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-replay-'));
let client: Client;
let close: () => Promise<void>;
let worker: Awaited<ReturnType<typeof startTestWorker>>;

const gate = path.join(dir, 'gate'); // see test/helpers/gated-task.ts
const gatedTask = path.resolve('test/helpers/gated-task.ts');

before(async () => {
  ({ client, close } = await testClient());
  process.env[GATE_ENV] = gate; // read by the trainer processes this worker starts
  worker = await startTestWorker({ ...testOptions(taskQueue), taskModules: [gatedTask] });
});
after(async () => {
  await worker.stop();
  await close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('continue-as-new every epoch carries the record forward: nothing lost, golden weights', async () => {
  const spec = { task: 'synthetic', epochs: 3, seed: 4, batchSize: 16, continueAsNewEvery: 1 };
  const workflowId = `can-${Date.now()}`;
  const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId,
    args: [spec],
  });
  const result = await client.workflow.getHandle<TrainModel>(workflowId).result();
  assert.deepEqual(
    result.epochs.map((e) => e.epoch),
    [0, 1, 2],
  );
  assert.equal(result.weightsSha256, await goldenWeightsSha256(spec));
  const files = await saveHistories(client, testStack(), handle.workflowId, dir);
  assert.ok(files.length >= 3, `${files.length} executions in the chain`);
  assert.deepEqual(await replayFiles(files), []);
});

test('pause, checkpoint-now and resume: the run pauses mid-epoch at a checkpoint and ends golden', async () => {
  // Epoch 0 is held (gated-synthetic sleeps per batch) until the test has paused it, so the pause
  // lands mid-epoch on any machine; the rest trains at full speed once the gate opens.
  const spec = {
    task: 'gated-synthetic',
    epochs: 2,
    seed: 8,
    batchSize: 16,
    hparams: { samples: 8192, features: 32, hidden: 256 },
    checkpoint: { everyBatches: 0, everySeconds: 0 },
  };
  const workflowId = `pause-${Date.now()}`;
  const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId,
    args: [spec],
  });
  await waitForEpoch(handle, (p) => (p.details?.batch ?? 0) >= 20);
  await handle.signal('checkpointNow');
  await waitForEpoch(handle, (p) => p.details?.ckpt !== undefined);
  await handle.signal('pause');
  await waitForStatus(handle, 'paused');
  const paused = await handle.query<Progress>('progress');
  const at = paused.lastCheckpoint;
  assert.ok(at, 'paused at a durable checkpoint');
  assert.equal(at.epoch, 0, `paused in epoch 0: ${JSON.stringify(at)}`);
  assert.ok(at.batch > 20, `paused mid-epoch, after the checkpoint-now: ${JSON.stringify(at)}`);
  fs.writeFileSync(gate, 'open');
  await handle.signal('resume');
  const result = await handle.result();
  assert.equal(result.weightsSha256, await goldenWeightsSha256(spec));
  assert.ok(result.recoveries.every((r) => r.kind !== 'crash'));
  const files = await saveHistories(client, testStack(), workflowId, dir);
  assert.ok(files.length >= 1);
  assert.deepEqual(await replayFiles(files), []);
});

test('every committed history replays without nondeterminism', async () => {
  const committed = fs
    .readdirSync('test/fixtures/histories')
    .map((f) => path.join('test/fixtures/histories', f));
  assert.ok(committed.length >= 10, `${committed.length} committed histories`);
  for (const kind of ['parallel-', 'sweep-'])
    assert.ok(
      committed.some((f) => path.basename(f).startsWith(kind)),
      `a committed ${kind.slice(0, -1)} history`,
    );
  assert.deepEqual(await replayFiles(committed), []);
});
