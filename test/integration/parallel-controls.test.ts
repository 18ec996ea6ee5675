// Controls inside a data-parallel round, end to end (real Temporal + MinIO, an in-process worker with
// two trainers): K = 2 shards of `gated-synthetic` are held inside round 0 until the test has
// checkpointed, paused or stopped them; a paused run resumes to the reference weights. The goodput
// ledger counts the shards' steps either way: a pause or a stop loses none.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { TRAIN_MODEL } from '../../src/contract';
import type { Progress, ShardHeartbeat, TrainParallel } from '../../src/contract';
import { GatedWorker } from '../helpers/gated-worker';
import { pendingShards, shardInputs } from '../helpers/pending-shards';
import { pollFor } from '../helpers/poll';
import { referenceWeightsSha256 } from './parallel-reference';
import { assertParallelLedgerConsistent } from '../helpers/parallel-ledger';

const taskQueue = `parallel-controls-${process.pid}`;
const gated = new GatedWorker('parallel-controls', taskQueue, { maxConcurrentTrainings: 2 });
let client: Client;

/**
 * 128 samples, 2 shards of 64, batch 4: 16 shard batches per data epoch; 50 epochs = 800 steps = 2
 * rounds of 400. A closed gate holds a round for 40 s (0.1 s a batch); controls arrive within 2-3 s.
 */
const SPEC = {
  task: 'gated-synthetic',
  epochs: 50,
  seed: 11,
  batchSize: 4,
  hparams: { samples: 128 },
  checkpoint: { everyBatches: 0, everySeconds: 0 }, // only checkpoint-now and pause save inside a round
  parallel: { shards: 2, syncEverySteps: 400 },
};

before(async () => ({ client } = await gated.start()));
after(() => gated.stop());

/** The running shard activities' last heartbeats. */
async function runningShards(handle: WorkflowHandle): Promise<ShardHeartbeat[]> {
  return (await pendingShards(handle, { started: true })).map((p) => p.details);
}

/** Both shards of round 0 running past batch 2, each with a checkpoint-now checkpoint heartbeated. */
async function holdRoundWithCheckpoints(handle: WorkflowHandle): Promise<ShardHeartbeat[]> {
  await pollFor('both shards training', async () => {
    const shards = await runningShards(handle);
    return shards.length === 2 && shards.every((s) => s.batch >= 2) ? shards : undefined;
  });
  await handle.signal('checkpointNow');
  let last: ShardHeartbeat[] = [];
  return pollFor('a checkpoint-now checkpoint from each shard', async () => {
    const shards = (last = await runningShards(handle));
    return shards.length === 2 && shards.every((s) => s.ckpt?.url.includes('/step=')) ? shards : undefined;
  }).catch((err: Error) => {
    throw new Error(`${err.message}; last heartbeats ${JSON.stringify(last)}`);
  });
}

test('stop inside a round: both shards save and end; the run is stopped at the round’s global checkpoint', async () => {
  const workflowId = `parallel-stop-${Date.now()}`;
  const handle = await client.workflow.start<TrainParallel>(TRAIN_MODEL, {
    taskQueue,
    workflowId,
    args: [SPEC],
  });
  const held = await holdRoundWithCheckpoints(handle);
  await handle.signal('stop');
  const result = await handle.result();
  assert.equal(result.status, 'stopped');
  assert.match(result.finalCheckpoint.url, /\/parallel\/round=0000\/global\.ckpt$/);
  assert.equal(result.rounds?.length ?? 0, 0, 'no round merged');
  const warning = result.warnings?.find((w) => w.startsWith('stopped inside round 0')) ?? '';
  // Each shard saved where the stop reached it: after its checkpoint-now, under round 0.
  const saved = [...warning.matchAll(/shard (\d): (s3:\/\/\S+?\.ckpt)/g)].map((m) => m[2] ?? '');
  assert.equal(saved.length, 2, warning);
  for (const [i, url] of saved.entries()) {
    assert.match(url, new RegExp(`/parallel/round=0000/shard=0${i}/step=`));
    assert.ok(!held.some((h) => h.ckpt?.url === url), `shard ${i} saved again when stopped: ${url}`);
  }
  // The ledger keeps what each shard saved when stopped (no round merged them, but they are durable,
  // as an epoch run's stop checkpoint is): every step trained, none redone.
  const g = result.goodput;
  assert.ok(g, 'a stopped data-parallel run carries its goodput');
  const steps = saved.map((url) => Number(/\/step=(\d+)-try=/.exec(url)?.[1]));
  const reached = (i: number) => held.find((h) => h.shard === i)?.batch ?? Infinity;
  assert.ok(
    steps.every((n, i) => n >= reached(i)),
    `saved at steps ${steps.join(', ')}`,
  );
  const total = steps.reduce((sum, n) => sum + n, 0);
  assert.deepEqual([g.stepsKept, g.stepsTrained, g.stepsRedone], [total, total, 0]);
});

test('pause inside a round, resume: each shard continues from its pause checkpoint; reference weights', async () => {
  const workflowId = `parallel-pause-${Date.now()}`;
  const handle = await client.workflow.start<TrainParallel>(TRAIN_MODEL, {
    taskQueue,
    workflowId,
    args: [SPEC],
  });
  await holdRoundWithCheckpoints(handle);
  await handle.signal('pause');
  await pollFor('both shards paused', async () => {
    const progress = await handle.query<Progress>('progress');
    const running = await runningShards(handle);
    return progress.status === 'paused' && running.length === 0 ? true : undefined;
  });
  gated.open(); // the rest trains at full speed
  await handle.signal('resume');
  const result = await handle.result();
  assert.equal(result.status, 'completed');
  assert.equal(result.recoveryCount, 0, 'a pause is not a recovery');
  const inputs = await shardInputs(handle);
  const resumed = inputs.filter((i) => i.reason === 'pause');
  assert.deepEqual(
    resumed.map((i) => [i.round, i.shard, i.attempt]).sort(),
    [
      [0, 0, 1],
      [0, 1, 1],
    ],
    'each paused shard resumed once, in round 0',
  );
  for (const i of resumed)
    assert.match(i.resumeFrom?.url ?? '', new RegExp(`round=0000/shard=0${i.shard}/step=`));
  assert.equal(inputs.length, 6, 'round 0: 2 + 2 resumed, round 1: 2');
  const reference = await referenceWeightsSha256({
    seed: 11,
    epochs: 50,
    batchSize: 4,
    samples: 128,
    shards: 2,
    syncEverySteps: 400,
  });
  assert.equal(result.weightsSha256, reference);
  // Each resumed shard continued from its pause checkpoint: 2 shards × 400 steps × 2 rounds, all kept.
  assertParallelLedgerConsistent(result, { shards: 2, steps: 400, rounds: 2 });
  assert.equal(result.goodput?.stepsTrained, 1600);
});
