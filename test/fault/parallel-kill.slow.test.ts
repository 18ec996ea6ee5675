// SIGKILL the worker process training one shard of a data-parallel round, after that shard saved a
// checkpoint inside the round. Only that shard is started again (from that checkpoint, on another
// worker); the other shards' results stay; the final weights equal the plain-tfjs reference's.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { ParallelTrainingResult, ShardHeartbeat, TrainShardInput } from '../../src/contract';
import type { TrainingSpecInput } from '../../src/spec';
import { GATE_ENV } from '../helpers/gated-task';
import { testClient, testEnv } from '../helpers/training';
import { WorkerFleet } from '../helpers/worker-fleet';
import { referenceWeightsSha256 } from '../integration/parallel-reference';

const taskQueue = `parallel-kill-${process.pid}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-parallel-kill-'));
// Never opened: gated-synthetic sleeps 100 ms per step, so a round of 20 steps lasts about 2 s and
// a shard that checkpoints every 5 steps is mid-round for most of it, on any machine.
const gate = path.join(dir, 'gate');
const env = {
  ...testEnv(),
  [GATE_ENV]: gate,
  DFIT_TASK_MODULES: path.resolve('test/helpers/gated-task.ts'),
};
const fleet = new WorkerFleet(env, taskQueue, 'test-artifacts/parallel-kill');
let client: Client;
let close: () => Promise<void>;

const spec: TrainingSpecInput = {
  task: 'gated-synthetic',
  epochs: 20,
  seed: 5,
  batchSize: 8,
  hparams: { samples: 96 },
  checkpoint: { everyBatches: 5, everySeconds: 0 },
  recovery: { heartbeatTimeoutSeconds: 2, backoffSeconds: 0 },
  parallel: { shards: 3, syncEverySteps: 20 },
};

before(async () => {
  ({ client, close } = await testClient());
  // One shard per worker: killing one worker kills exactly one shard.
  await Promise.all([fleet.start(), fleet.start(), fleet.start()]);
});
after(async () => {
  await fleet.stopAll();
  await close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('SIGKILL of one shard’s worker mid-round re-runs only that shard, from its checkpoint; same weights', async () => {
  const reference = referenceWeightsSha256({
    seed: 5,
    epochs: 20,
    batchSize: 8,
    samples: 96,
    shards: 3,
    syncEverySteps: 20,
  });
  const handle = await client.workflow.start('trainModel', {
    taskQueue,
    workflowId: `parallel-kill-${Date.now()}`,
    args: [spec],
  });
  // Shard 1 of round 1, once a checkpoint it saved inside the round is durable, before the round ends.
  const victim = await waitForShard(
    handle,
    (d) => d.shard === 1 && d.round === 1 && d.ckpt?.epoch === 1 && d.ckpt.batch > 0 && d.batch < 20,
  );
  await fleet.kill(victim.identity, 'SIGKILL');
  void fleet.start(); // a replacement; the resumed shard may also go to a worker that is free now

  const result = (await handle.result()) as ParallelTrainingResult;
  assert.equal(result.status, 'completed');
  assert.equal(await reference, result.weightsSha256, 'bit-exact with the reference');

  const inputs = await shardInputs(handle);
  const byShard = (round: number, shard: number) =>
    inputs.filter((i) => i.round === round && i.shard === shard);
  for (let round = 0; round < 4; round++)
    for (let shard = 0; shard < 3; shard++)
      assert.equal(
        byShard(round, shard).length,
        round === 1 && shard === 1 ? 2 : 1,
        `round ${round} shard ${shard}`,
      );
  const rerun = byShard(1, 1)[1];
  assert.equal(rerun?.resumeFrom?.url, victim.details.ckpt?.url, 'resumed from the checkpoint it had saved');
  assert.match(rerun?.resumeFrom?.url ?? '', /\/parallel\/round=0001\/shard=01\/step=\d{7}-try=0\.ckpt$/);
  assert.equal(rerun?.reason, 'crash');
  assert.equal(result.recoveryCount, 1);
  assert.deepEqual(
    result.rounds?.[1]?.shards.map((s) => s.recoveries),
    [0, 1, 0],
  );
});

interface PendingShard {
  identity: string;
  details: ShardHeartbeat;
}

async function waitForShard(handle: WorkflowHandle, predicate: (d: ShardHeartbeat) => boolean) {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const pending = (await handle.describe()).raw.pendingActivities ?? [];
    for (const a of pending) {
      const payload = a.heartbeatDetails?.payloads?.[0];
      if (a.activityType?.name !== 'trainShard' || !payload || !a.lastWorkerIdentity) continue;
      const details = defaultPayloadConverter.fromPayload<ShardHeartbeat>(payload);
      if (predicate(details)) return { identity: a.lastWorkerIdentity, details } satisfies PendingShard;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('shard 1 never reached a checkpoint inside round 1');
}

async function shardInputs(handle: WorkflowHandle): Promise<TrainShardInput[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? [])
    .map((e) => e.activityTaskScheduledEventAttributes)
    .filter((a) => a?.activityType?.name === 'trainShard')
    .map((a) => defaultPayloadConverter.fromPayload<TrainShardInput>(a!.input!.payloads![0]!));
}
