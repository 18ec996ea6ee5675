// What a data-parallel run shows, end to end (real Temporal + MinIO, an in-process worker with two
// trainers, the real CLI): `status` draws the round × shard grid while round 0 is held inside its
// shards (gated-synthetic) and after the run; each merged round has its entry in the run's log in
// the bucket, matching the result's `rounds`.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { TRAIN_MODEL } from '../../src/contract';
import type { ParallelTrainingResult, TrainParallel } from '../../src/contract';
import { readRun } from '../../src/cli/render/run-state';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import type { TrainingSpecInput } from '../../src/spec';
import { cli } from '../e2e/cli-helpers';
import { GatedWorker } from '../helpers/gated-worker';
import { testStack } from '../helpers/stack-env';
import { pollFor } from '../helpers/poll';

const taskQueue = `parallel-visibility-${process.pid}`;
const gated = new GatedWorker('parallel-visibility', taskQueue, { maxConcurrentTrainings: 2 });
let client: Client;

/**
 * 2000 samples, 2 shards of 1000, batch 2: 500 shard batches per data epoch; 1 epoch = 2 rounds of
 * 250. With the gate closed round 0 lasts 25 s or more, so the test looks at it while it runs.
 */
const SPEC: TrainingSpecInput = {
  task: 'gated-synthetic',
  epochs: 1,
  seed: 3,
  batchSize: 2,
  hparams: { samples: 2000, hidden: 4 },
  checkpoint: { everyBatches: 0, everySeconds: 0 },
  parallel: { shards: 2, syncEverySteps: 250 },
};

before(async () => ({ client } = await gated.start()));
after(() => gated.stop());

test('status draws the round × shard grid live and after the run; every round is logged in the bucket', async () => {
  const workflowId = `parallel-visibility-${Date.now()}`;
  const handle = await client.workflow.start<TrainParallel>(TRAIN_MODEL, {
    taskQueue,
    workflowId,
    args: [SPEC],
  });

  // Round 0 held: both shards report batches, and the workflow marks both running.
  const live = await pollFor('both shards of round 0 past batch 2', async () => {
    const s = await readRun(client, workflowId);
    const beats = (s.shards ?? []).filter((x) => x.details && x.details.round === 0 && x.details.batch >= 2);
    const marks = s.progress?.parallel?.current?.shards ?? [];
    return beats.length === 2 && marks.every((m) => m.state === 'running') && marks.length === 2
      ? s
      : undefined;
  });
  assert.equal(live.progress?.epochs, 2, 'progress counts rounds, not data epochs');
  assert.equal(live.progress?.parallel?.dataEpochs, 1);
  const running = await cli(['status', workflowId], taskQueue);
  assert.equal(running.code, 0, running.stderr);
  assertHeldRound(running.stdout);
  console.log(running.stdout); // what a user sees mid-round
  assert.equal(live.progress?.parallel?.round, 0);
  assert.equal(live.progress?.parallel?.dataEpoch, 0);

  gated.open();
  const result = await handle.result();
  assert.equal(result.status, 'completed');
  assert.deepEqual(
    result.rounds?.map((r) => r.round),
    [0, 1],
  );
  await assertRoundLog(result);

  const done = await cli(['status', workflowId], taskQueue);
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stdout, /rounds\s*│\s*round 2\/2/);
  for (const round of result.rounds ?? []) {
    const row = gridLines(done.stdout).find(
      (l) => l.startsWith(`│ ${round.round} `) && l.includes(round.ckpt),
    );
    assert.ok(row, `a grid row for round ${round.round} with ${round.ckpt}:\n${done.stdout}`);
    assert.equal(row.match(/✓/g)?.length, 2, `both shards done in round ${round.round}: ${row}`);
  }
});

/** The grid of a run held in round 0: both shards `▶ b<n>/250`, starting from round 0's global. */
function assertHeldRound(stdout: string): void {
  assert.match(stdout, /rounds\s*│\s*round 0\/2 · data epoch 0\/1 · 2 shards × 250 steps/);
  assert.match(stdout, /rounds × shards/);
  const row = gridLines(stdout).find((l) => l.startsWith('│ 0 '));
  assert.ok(row, `a row for round 0:\n${stdout}`);
  assert.equal(row.match(/▶ b\d+\/250/g)?.length, 2, `both shards running: ${row}`);
  assert.match(row, /from s3:\/\/.*\/parallel\/round=0000\/global\.ckpt/);
}

/** The lines of the round × shard grid (after its title; the rounds' metrics table comes before). */
function gridLines(stdout: string): string[] {
  const at = stdout.indexOf('rounds × shards');
  assert.ok(at >= 0, `status shows the grid:\n${stdout}`);
  return stdout.slice(at).split('\n');
}

/** `<run>/log/round=000000.json` … : one entry per round, the same facts as the result's `rounds`. */
async function assertRoundLog(result: ParallelTrainingResult): Promise<void> {
  const objects = createMinioObjectClient(testStack().s3);
  const keys = (await objects.list(`${result.runName}/log/`)).map((o) => o.key).sort();
  assert.deepEqual(keys, [
    `${result.runName}/log/round=000000.json`,
    `${result.runName}/log/round=000001.json`,
  ]);
  for (const [i, key] of keys.entries()) {
    const chunks: Buffer[] = [];
    for await (const chunk of await objects.get(key)) chunks.push(chunk as Buffer);
    const entry = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    const round = result.rounds?.[i];
    assert.ok(round);
    assert.equal(entry.round, round.round);
    assert.equal(entry.ckpt, round.ckpt);
    assert.equal(entry.mergeBytes, round.mergeBytes);
    assert.equal(entry.shardMs, round.shardMs);
    assert.deepEqual(
      (entry.shards as Record<string, unknown>[]).map(({ shard, ckpt, worker, recoveries }) => ({
        shard,
        ckpt,
        worker,
        recoveries,
      })),
      round.shards,
    );
  }
}
