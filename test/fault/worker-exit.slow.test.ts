// A worker sent SIGTERM exits: idle after a finished run (its trainer may hold a warm session, or be
// training the next epoch ahead), and idle after a stopped run. A worker that never exits holds its
// slot and its memory until someone kills it (seen in the bench and as hung test processes).
import { TRAIN_MODEL } from '../../src/contract';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import type { TrainingSpecInput } from '../../src/spec';
import type { TrainModel } from '../../src/contract';
import { testClient, testEnv } from '../helpers/training';
import { WorkerFleet } from '../helpers/worker-fleet';

const taskQueue = `worker-exit-${process.pid}`;
let client: Client;
let close: () => Promise<void>;
const fleet = new WorkerFleet(testEnv(), taskQueue, 'test-artifacts/worker-exit');

before(async () => ({ client, close } = await testClient()));
after(async () => {
  await fleet.stopAll();
  await close();
});

/** Waits for the worker's exit after SIGTERM, or fails naming how long it has been. */
async function exitsAfterSigterm(identity: string, limitMs: number): Promise<number> {
  const worker = fleet.workers.get(identity);
  assert.ok(worker);
  const sent = Date.now();
  worker.child.kill('SIGTERM');
  const exited = await Promise.race([
    worker.exited.then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), limitMs)),
  ]);
  assert.ok(
    exited,
    `the worker was still alive ${limitMs} ms after SIGTERM (log: test-artifacts/worker-exit)`,
  );
  fleet.workers.delete(identity);
  return Date.now() - sent;
}

for (const [name, spec] of [
  // A long run's epochs: after the last one the trainer holds nothing; after an earlier one it trains ahead.
  [
    'after a completed run',
    { task: 'synthetic', epochs: 3, seed: 3, hparams: { samples: 2048, hidden: 64 } },
  ],
  [
    'while its trainer trains ahead of a stopped run',
    { task: 'synthetic', epochs: 50, seed: 3, hparams: { samples: 4096, hidden: 128 } },
  ],
] as [string, TrainingSpecInput][]) {
  test(`SIGTERM ${name}: the worker exits`, async () => {
    const worker = await fleet.start();
    const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
      taskQueue,
      workflowId: `worker-exit-${Date.now()}`,
      args: [spec],
    });
    if (spec.epochs > 3) {
      // Stop after the first epoch: its trainer is then training epoch 2 ahead, for nobody.
      for (;;) {
        const progress = await handle.query<{ epoch: number }>('progress');
        if (progress.epoch >= 1) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await handle.signal('stop');
    }
    const result = await handle.result();
    assert.ok(result.status === 'completed' || result.status === 'stopped');
    assert.deepEqual(result.recoveries, [], 'nothing failed, so nothing was resumed');
    await exitsAfterSigterm(worker.identity, 30_000);
  });
}
