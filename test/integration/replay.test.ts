// Replay safety: histories with continue-as-new, pause/resume and checkpoint-now, recorded now, and
// committed histories with crash recoveries and a corruption fallback (test/fixtures/histories),
// all replay against the current workflow code without nondeterminism.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import type { Progress, TrainingResult } from '../../workflows/run-record';
import { testStack } from '../helpers/stack-env';
import { replayFiles, saveHistories } from '../helpers/histories';
import { goldenWeightsSha256, startTestWorker, testClient, testOptions } from '../helpers/training';
import { waitForEpoch } from '../helpers/worker-fleet';

const taskQueue = `replay-${process.pid}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-replay-'));
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
  fs.rmSync(dir, { recursive: true, force: true });
});

test('continue-as-new every epoch carries the record forward: nothing lost, golden weights', async () => {
  const spec = { task: 'synthetic', epochs: 3, seed: 4, batchSize: 16, continueAsNewEvery: 1 };
  const workflowId = `can-${Date.now()}`;
  const handle = await client.workflow.start('trainModel', { taskQueue, workflowId, args: [spec] });
  const result = (await client.workflow.getHandle(workflowId).result()) as TrainingResult;
  assert.deepEqual(
    result.epochs.map((e) => e.epoch),
    [0, 1, 2],
  );
  assert.equal(result.weightsSha256, await goldenWeightsSha256(spec));
  const files = await saveHistories(client, testStack(), handle.workflowId, dir);
  assert.ok(files.length >= 3, `${files.length} executions in the chain`);
});

test('pause, checkpoint-now and resume: the run pauses at a checkpoint and ends golden', async () => {
  const spec = {
    task: 'synthetic',
    epochs: 2,
    seed: 8,
    batchSize: 16,
    hparams: { samples: 8192, features: 32, hidden: 256 },
    checkpoint: { everyBatches: 0, everySeconds: 0 },
  };
  const workflowId = `pause-${Date.now()}`;
  const handle = await client.workflow.start('trainModel', { taskQueue, workflowId, args: [spec] });
  await waitForEpoch(handle, (p) => (p.details?.batch ?? 0) >= 20);
  await handle.signal('checkpointNow');
  await waitForEpoch(handle, (p) => p.details?.ckpt !== undefined);
  await handle.signal('pause');
  await waitFor(async () => (await handle.query<Progress>('progress')).status === 'paused');
  const paused = await handle.query<Progress>('progress');
  assert.ok(paused.lastCheckpoint, 'paused at a durable checkpoint');
  await handle.signal('resume');
  const result = (await handle.result()) as TrainingResult;
  assert.equal(result.weightsSha256, await goldenWeightsSha256(spec));
  assert.ok(result.recoveries.every((r) => r.kind !== 'crash'));
  await saveHistories(client, testStack(), workflowId, dir);
});

test('every recorded history replays without nondeterminism', async () => {
  const committed = fs
    .readdirSync('test/fixtures/histories')
    .map((f) => path.join('test/fixtures/histories', f));
  const fresh = fs.readdirSync(dir).map((f) => path.join(dir, f));
  assert.ok(
    committed.length >= 1 && fresh.length >= 4,
    `${committed.length} committed, ${fresh.length} fresh`,
  );
  assert.deepEqual(await replayFiles([...committed, ...fresh]), []);
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}
